# Kindred Canvas: `make run` starts the app, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
export KINDRED_DATA_DIR ?= $(CURDIR)/data

.PHONY: run test lint unit e2e bench demo check backup clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

run: $(VENV)/.runtime
	$(BIN)/streamlit run serve.py --server.port $(PORT)

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: $(VENV)/.dev
	$(BIN)/python -m pytest -m "not e2e"

e2e: $(VENV)/.dev
	$(BIN)/python -m pytest tests/e2e

bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks

demo: $(VENV)/.runtime
	test -e $(CURDIR)/demo_data/store || $(BIN)/python -m gallery_store --data-dir $(CURDIR)/demo_data demo
	KINDRED_DATA_DIR=$(CURDIR)/demo_data $(BIN)/streamlit run serve.py --server.port $(PORT)

check: $(VENV)/.runtime
	$(BIN)/python -m gallery_store check

backup: $(VENV)/.runtime
	$(BIN)/python -m gallery_store backup

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
