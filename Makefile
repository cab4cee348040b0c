# Set-up and entry points. `make chat` and `make test` do every set-up step on a fresh machine.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install prepare chat test test-all lint bench services

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(STAMP)

prepare: install
	$(BIN)/medgraph prepare

chat: prepare
	$(BIN)/medgraph chat

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: prepare lint
	$(BIN)/pytest
	$(BIN)/pytest evals/

test-all: prepare
	$(BIN)/pytest -m ''

bench: prepare
	$(PY) -m benchmarks

services:
	bash .ci/services
