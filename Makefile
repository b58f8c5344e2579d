# Set-up-and-run targets. Each creates .venv from the pinned lock file when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := envs/requirements-cpu.lock

.PHONY: demo test test-slow lint bench-env clean-venv

$(VENV)/.installed: $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(LOCK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

demo: $(VENV)/.installed
	$(BIN)/skeleton-steering demo --out results/demo

test: $(VENV)/.installed
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest

test-slow: $(VENV)/.installed
	$(BIN)/python -m pytest -m slow

bench-env: $(VENV)/.installed
	$(BIN)/skeleton-steering bench env --batch 64 256 --steps 50

clean-venv:
	rm -rf $(VENV)
