# The README's two commands, `make demo` and `make test`, do all the set-up on a
# fresh machine: they create .venv if it is missing and install quanta into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The tests also run the array-API paths on PyTorch tensors. torch is pinned to
# 2.13.0, which this project's machines (and CI) install as a CPU build from a
# local wheel; an unpinned `torch` would pull a multi-GB CUDA build from PyPI.
TORCH  := torch==2.13.0

.PHONY: demo test bench docs lint install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# quanta alone (what `make demo` needs).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# quanta with its test, benchmark and lint extras, and torch.
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,bench,lint,zarr,torch,nn-models]" "$(TORCH)"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/quanta demo

test: install-dev
	$(BIN)/python -m pytest

bench: install-dev
	$(BIN)/python benchmarks/run.py

# The measured tables in docs/ (each document names the command that made it).
docs: install-dev
	$(BIN)/python docs/adaptive_table.py
	$(BIN)/python docs/audio_table.py
	$(BIN)/python docs/image_table.py
	$(BIN)/python docs/nn_table.py

lint: install-dev
	$(BIN)/ruff check src tests benchmarks docs

clean:
	rm -rf $(VENV) quanta-demo build *.egg-info
