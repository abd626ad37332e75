# The README's two commands, `make demo` and `make test`, do all the set-up on a
# fresh machine: they create .venv if it is missing and install quanta into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch is pinned to the CPU build that ships on this machine image; a plain
# `torch` requirement would pull a multi-GB CUDA build.
TORCH  := torch==2.13.0

.PHONY: demo test bench lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,bench,lint]" "$(TORCH)"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/quanta demo

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/run.py

lint: install
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) quanta-demo build *.egg-info
