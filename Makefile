# coldstart: the template's own commands. `make help` lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: help venv demo test test-fast lint format bench clean

help: ## List every command with what it does
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet --group dev
	touch $@

venv: $(VENV)/.installed ## Create .venv with the template's tools and what baked projects need

demo: venv ## Bake a default project in a temp folder, train, serve, and print one prediction
	PY=$(abspath $(PY)) bash scripts/demo.sh

test: venv ## Run every test (bakes projects, runs their suites, real processes)
	$(PY) -m pytest

test-fast: venv ## Run the tests that skip the slow, real-process ones
	$(PY) -m pytest -m "not slow"

# The template folder and hooks hold Jinja, not Python: the tests lint them after rendering.
lint: venv ## Check the template's own Python (baked projects are checked by the tests)
	$(PY) -m ruff check tests
	$(PY) -m ruff format --check tests

format: venv ## Fix style in the template's own Python
	$(PY) -m ruff check --fix tests
	$(PY) -m ruff format tests

bench: venv ## Bake a default project and run its benchmarks (training time, serving vs mlflow)
	PY=$(abspath $(PY)) bash scripts/bench.sh

clean: ## Remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
