# runhook — the two set-up commands are `make dev` and `make test`; both call `make install`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CACHE := .cache

.PHONY: install dev test lint typecheck unit check-template bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	touch $@

dev: install
	$(BIN)/runhook dev

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit -q

test: install lint typecheck
	$(BIN)/pytest -q -n 2 --dist loadgroup

clean:
	rm -rf $(VENV) $(CACHE) .aws-sam .state
