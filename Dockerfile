# One image for every Flowlab part: docker-compose.yml builds it once, as flowlab:local, and each
# service picks its part by its command.

# The SPA's SDK mode serves auth0-spa-js from the npm install (package.json, package-lock.json):
# installed here, and only its browser builds are copied into the image below.
FROM node:22-slim AS spa-sdk
WORKDIR /sdk
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY shared ./shared
COPY authserver ./authserver
COPY spa_demo ./spa_demo
COPY --from=spa-sdk /sdk/node_modules/@auth0/auth0-spa-js/dist ./node_modules/@auth0/auth0-spa-js/dist
ENV AUTH0_SPA_JS_DIST=/app/node_modules/@auth0/auth0-spa-js/dist
COPY native_demo ./native_demo
COPY m2m_demo ./m2m_demo
RUN pip install . && useradd --create-home --uid 10001 flowlab && mkdir -p /app/.data && chown flowlab /app/.data
USER flowlab
