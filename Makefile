# Flowlab: `make demo` runs every part on the local defaults, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

NODE_STAMP := node_modules/.package-lock.json

.PHONY: demo test lint format bench test-tools clean

$(STAMP): pyproject.toml
	test -x $(PY) || scripts/create-venv $(PYTHON) $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

test-tools:
	@scripts/ensure-test-tools

# ruff (lint and format check) for Python; eslint, prettier and tsc for the SPA's modules.
lint: $(STAMP) $(NODE_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	npm run --silent lint
	npm run --silent typecheck

format: $(STAMP) $(NODE_STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .
	npm run --silent format

demo: $(STAMP) $(NODE_STAMP)
	$(PY) scripts/run_demo.py

test: lint test-tools
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench.bench_validation

clean:
	rm -rf $(VENV) .data .pytest_cache node_modules
