# Flowlab: `make demo` runs every part on the local defaults, `make test` runs the tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench test-tools clean

$(STAMP): pyproject.toml
	test -x $(PY) || scripts/create-venv $(PYTHON) $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test-tools:
	@scripts/ensure-test-tools

demo: $(STAMP)
	$(PY) scripts/run_demo.py

test: $(STAMP) test-tools
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench.bench_validation

clean:
	rm -rf $(VENV) .data .pytest_cache
