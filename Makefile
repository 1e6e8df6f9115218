# ssmlab: `make lab` runs every notebook on the embedded emulator (`ssmlab run`), `make test` runs the tests.
# Both run `make setup` first; every target is safe to run again.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ssmlab-installed
LAB ?=
RUN_ARGS ?=

.PHONY: help setup graphviz lab test bench soak diagrams jupyter emulator-stop

help:
	@echo "make lab      set up, then run every notebook on the embedded emulator into build/ (ssmlab run; LAB=name, RUN_ARGS=--keep)"
	@echo "make test     set up, then run the tests"
	@echo "make bench    set up, then the benchmarks (ratios against baselines measured in the same run)"
	@echo "make soak     set up, then build/doctor/cleanup cycles under faults, concurrent and interrupted builds (PASS/MISS)"
	@echo "make diagrams set up, then re-render diagrams/*.png from labs built on a private emulator"
	@echo "make jupyter  set up, then JupyterLab on notebooks/ with the emulator running"
	@echo "make setup    .venv with ssmlab (editable, dev extra) and Graphviz's dot"

# ssmlab's own modules compiled ahead: an editable install leaves them uncompiled, and where Python may
# not write its cache (PYTHONDONTWRITEBYTECODE=1, as on the machine these figures come from) every process that
# imports ssmlab (the CLI, the emulator, each kernel) would compile them again: `ssmlab --help` takes
# 0.15 s instead of 0.11 s (measured). Files changed since are compiled again, here or on import.
setup: $(STAMP) graphviz
	@$(BIN)/python -m compileall -q ssmlab >/dev/null

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "ssmlab needs Python >= 3.10; $(PYTHON) is $$($(PYTHON) -V 2>&1). Run: make PYTHON=python3.11 setup"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Graphviz's `dot` draws the diagrams: the PyPI package `graphviz` is only its bindings.
graphviz:
	@command -v dot >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's graphviz"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "Graphviz's dot is missing; install it: sudo apt-get install -y graphviz (Debian/Ubuntu), brew install graphviz (macOS) or conda install -c conda-forge graphviz"; \
	    exit 1; \
	  fi; }

# The notebooks, in order, headless (papermill), into build/: executed notebooks, pictures, a table.
lab: setup
	$(BIN)/ssmlab run --target emulator $(if $(LAB),--lab $(LAB)) $(RUN_ARGS)

# One worker per core (at most 4), each with its own emulator; `pytest` alone runs in one process.
test: setup
	$(BIN)/python -m pytest -n auto --maxprocesses 4

# The budgets of DESIGN.md, each printed as a ratio against a baseline measured in the same run.
bench: setup
	$(BIN)/python benchmarks/bench.py

# Reliability under faults, lost answers, concurrency and interruptions, each figure against its bound.
soak: setup
	$(BIN)/python benchmarks/soak.py

# The reference pictures (README, notebooks), drawn from labs built and removed on the emulator.
diagrams: setup
	$(BIN)/python diagrams/render.py

jupyter: setup
	@mkdir -p notebooks
	$(BIN)/ssmlab emulator start
	eval "$$($(BIN)/ssmlab emulator env)" && \
	  exec $(BIN)/jupyter lab --notebook-dir=notebooks $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

emulator-stop:
	-$(BIN)/ssmlab emulator stop
