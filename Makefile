# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench

setup:
	@VENV=$(VENV) bash scripts/bootstrap

## The main job on the built-in demo data: validate, export, and this quarter's reports.
demo: setup
	$(BIN)/utilization demo-run --out reports/demo

## The whole test suite (starts its own PostgreSQL; uses Debian chromium for the HTML checks).
test: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

## Speed and memory benchmarks (ratios against a baseline measured in the same run).
bench: setup
	$(BIN)/python benchmarks/run.py
