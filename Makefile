# Two entry points for a newcomer: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/alphatrader daily --replay 60

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP_DEV)
	$(BIN)/mypy src

pytest: $(STAMP_DEV)
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP_DEV)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/backtest_speed.py
	$(BIN)/python bench/daily_run.py

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
