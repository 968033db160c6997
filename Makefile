# beatwatch: `make run` starts the scheduler on the shipped config; `make test` runs lint and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format crawl bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/beatwatch run

crawl: $(STAMP)
	$(BIN)/beatwatch crawl

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_search.py
	$(BIN)/python bench/bench_crawl.py
	$(BIN)/python bench/bench_sitemap.py
	$(BIN)/python bench/bench_extraction.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
