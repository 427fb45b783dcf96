# One image for every Flowlab part; docker-compose.yml picks the part by its command.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY shared ./shared
COPY authserver ./authserver
COPY spa_demo ./spa_demo
COPY native_demo ./native_demo
COPY m2m_demo ./m2m_demo
RUN pip install . && useradd --create-home --uid 10001 flowlab && mkdir -p /app/.data && chown flowlab /app/.data
USER flowlab
