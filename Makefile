# Two commands on a fresh machine:  make article  |  make test
# Both install the exact versions of requirements/*.txt (hash-checked); make lock rewrites them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
# every install is hash-checked against the lock and takes wheels only (no local builds)
PIP_LOCKED := $(PIP) install -q --require-hashes --only-binary :all: -r
export SOURCE_DATE_EPOCH ?= 1554076800
export PYTHONHASHSEED := 0

# The lock: one resolution of pyproject.toml with all its extras (constraints.txt), then one
# hash-pinned file per set, each constrained to it, for CPython 3.11 on x86-64 Linux.
LOCK_PYTHON   := 3.11
LOCK_PLATFORM := x86_64-unknown-linux-gnu
UV_VERSION    := 0.13.9
UV            := .venv-lock/bin/uv
LOCKS         := requirements/article.txt requirements/test.txt requirements/bench.txt \
                 requirements/lab.txt
UV_COMPILE     = $(UV) pip compile -q --python-version $(LOCK_PYTHON) \
                 --python-platform $(LOCK_PLATFORM) --custom-compile-command "make lock" \
                 $(if $(UPGRADE),--upgrade)

.PHONY: article test lint bench lab lock data figures clean distclean help

help:
	@echo "make article   render build/article.html, .pdf and .jats.xml"
	@echo "make test      run the test suite"
	@echo "make figures   re-draw figures/ only (Figure 1, its panels, provenance.json)"
	@echo "make bench     run the benchmarks (bench/RESULTS.md)"
	@echo "make lab       open JupyterLab on notebooks/ (kernel: Python (casereport) of .venv)"
	@echo "make lock      re-resolve requirements/*.txt after a change in pyproject.toml"
	@echo "               (UPGRADE=1: move every package to its newest allowed version)"
	@echo "make data      regenerate the simulated DICOM studies in data/"
	@echo "make clean     remove build outputs"

# A changed lock rebuilds the environment from scratch, so that it holds exactly the lock.
# The package is compiled to bytecode too (pip compiles only what it copies), so that where
# PYTHONDONTWRITEBYTECODE is set every render process does not compile it again.
$(VENV)/.installed: $(LOCKS)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PIP_LOCKED) requirements/article.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(PY) -m compileall -q casereport >/dev/null
	@touch $@

# the project's Jupyter kernel, registered inside .venv (nothing global): the notebooks name it
$(VENV)/.kernel: $(VENV)/.installed
	$(PY) -c "from casereport.render.kernel import ensure_kernel; ensure_kernel()"
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP_LOCKED) requirements/test.txt
	@touch $@

$(VENV)/.installed-bench: $(VENV)/.installed
	$(PIP_LOCKED) requirements/bench.txt
	@touch $@

$(VENV)/.installed-lab: $(VENV)/.installed
	$(PIP_LOCKED) requirements/lab.txt
	@touch $@

# cffconvert needs jsonschema<4, which JupyterLab cannot use: it gets an environment of its own
# (one of its dependencies, docopt, exists only as a source archive).
.venv-cff/.installed: requirements/cff.txt
	rm -rf .venv-cff
	$(PYTHON) -m venv .venv-cff
	.venv-cff/bin/python -m pip --disable-pip-version-check install -q --require-hashes \
	  --prefer-binary -r requirements/cff.txt
	@touch $@

article: $(VENV)/.installed $(VENV)/.kernel
	$(PY) render.py

# what notebooks/figure.ipynb does in the render, without the notebooks and the article
figures: $(VENV)/.installed
	$(PY) -c "from casereport.figure import write_figure1; \
	  from casereport.review import write_provenance; \
	  write_figure1('data', 'figures'); \
	  write_provenance('figures', notebook='notebooks/figure.ipynb', parameters={'data_dir': 'data'})"

lint: $(VENV)/.installed-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: lint .venv-cff/.installed $(VENV)/.kernel
	$(PY) -m pytest

bench: $(VENV)/.installed-bench $(VENV)/.installed-test
	$(PY) bench/run.py

lab: $(VENV)/.installed-lab $(VENV)/.kernel
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

lock:
	test -x $(UV) || { $(PYTHON) -m venv .venv-lock && \
	  .venv-lock/bin/python -m pip install -q uv==$(UV_VERSION); }
	$(UV_COMPILE) --no-annotate --all-extras pyproject.toml requirements/build.in \
	  -o requirements/constraints.txt
	$(UV_COMPILE) --generate-hashes -c requirements/constraints.txt \
	  pyproject.toml requirements/build.in -o requirements/article.txt
	for x in test bench lab; do \
	  $(UV_COMPILE) --generate-hashes -c requirements/constraints.txt --extra $$x \
	    pyproject.toml requirements/build.in -o requirements/$$x.txt || exit 1; done
	$(UV_COMPILE) --generate-hashes requirements/cff.in -o requirements/cff.txt
	$(PYTHON) requirements/pin_environment.py environment.yml requirements/constraints.txt

data: $(VENV)/.installed
	$(PY) -m casereport.synth --out data --force

clean:
	$(PY) render.py clean 2>/dev/null || rm -rf build

distclean: clean
	rm -rf $(VENV) .venv-cff .venv-lock
