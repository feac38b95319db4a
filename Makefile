# Two commands on a fresh machine:  make article  |  make test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
export SOURCE_DATE_EPOCH ?= 1554076800
export PYTHONHASHSEED := 0

.PHONY: article test lint bench data figures clean distclean help

help:
	@echo "make article   render build/article.html and build/article.pdf"
	@echo "make test      run the test suite"
	@echo "make bench     run the benchmarks (bench/RESULTS.md)"
	@echo "make data      regenerate the simulated DICOM studies in data/"
	@echo "make clean     remove build outputs"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	@touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed
	$(PIP) install -q -e '.[bench]'
	@touch $@

article: $(VENV)/.installed
	$(PY) render.py

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint
	$(PY) -m pytest

bench: $(VENV)/.installed-bench $(VENV)/.installed-test
	$(PY) bench/run.py

data: $(VENV)/.installed
	$(PY) -m casereport.synth --out data --force

clean:
	$(PY) render.py clean 2>/dev/null || rm -rf build

distclean: clean
	rm -rf $(VENV)
