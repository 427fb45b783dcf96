# Flowlab: `make demo` runs every part on the local defaults, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

NODE_STAMP := node_modules/.package-lock.json

.PHONY: demo test lint format bench test-tools bench-tools clean

$(STAMP): pyproject.toml
	test -x $(PY) || scripts/create-venv $(PYTHON) $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

test-tools:
	@scripts/ensure-test-tools

bench-tools:
	@scripts/ensure-bench-tools

# ruff (lint and format check) for Python; eslint and prettier for the pages' modules, tsc for the SPA's.
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

# The validator and server figures into bench/RESULTS.md and bench/throughput.png (under 5 min);
# QUICK=1: a seconds-long run, BENCH_OUT=folder: write there instead.
bench: $(STAMP) bench-tools
	$(PY) -m bench $(if $(QUICK),--quick) $(if $(BENCH_OUT),--out $(BENCH_OUT))

clean:
	rm -rf $(VENV) .data .pytest_cache node_modules
