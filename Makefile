# Set up a virtual environment, build the package (C++ core included) and run things.
# Torch is installed first, pinned to the local CPU wheel, so that the package's lower bound
# does not pull a multi-GB CUDA build.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
SOURCES := pyproject.toml CMakeLists.txt $(shell find cpp acts_gnn geometry -type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: setup demo test test-all lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: $(SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==2.13.*"
	$(BIN)/python -m pip install -q ".[test]"
	touch $@

demo: setup
	$(BIN)/acts-gnn demo

test: setup
	$(BIN)/pytest

test-all: setup
	$(BIN)/pytest -m "not gpu"

lint: setup
	$(BIN)/python -m pip install -q ruff mypy
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: setup
	$(BIN)/python benchmarks/bench_data.py

clean:
	rm -rf build $(VENV) output
