# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/automation demo --dir demo

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check automation tests benchmarks
	$(BIN)/ruff format --check automation tests benchmarks
	$(BIN)/mypy

check: lint test

format: $(STAMP)
	$(BIN)/ruff check --fix automation tests benchmarks
	$(BIN)/ruff format automation tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m benchmarks.cycle
	$(BIN)/python -m benchmarks.sheets

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache
