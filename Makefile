# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint bench same-figures

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

## Every view's JSON export byte-identical between BASE and the working tree (two data sets).
## NEW_SRC=DIR compares another src/ folder instead of the working tree's.
same-figures: setup
	$(if $(BASE),,$(error give BASE=<commit>))
	$(BIN)/python scripts/same_figures.py --base $(BASE) $(if $(NEW_SRC),--new-src $(NEW_SRC))
