# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup dev demo dashboard test lint notebooks wheel bench bench-reports same-figures

setup:
	@VENV=$(VENV) bash scripts/bootstrap

## Everything a developer needs (the package editable with every extra and the dev tools):
## what setup installs.
dev: setup

## The main job on the built-in demo data: validate, export, and this quarter's reports.
demo: setup
	$(BIN)/utilization demo-run --out reports/demo

## The units dashboard on the demo data (Voilà, 127.0.0.1:8866; prints the address with its token).
dashboard: setup
	$(BIN)/utilization dashboard --data demo

## The whole test suite (starts its own PostgreSQL; uses Debian chromium for the HTML checks).
test: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests

## Lint, formatting, strict types and the architecture's import contracts.
lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

## The template notebooks written again from the view registry (with their key-figure outputs).
notebooks: setup
	$(BIN)/python -m utilization.report.notebooks

## The installable wheel, in dist/.
wheel: setup
	$(BIN)/python -m pip wheel --no-deps -w dist .

## Speed and memory benchmarks (ratios against a baseline measured in the same run).
bench: setup
	$(BIN)/python benchmarks/run.py

## A first report, validate and export in a new process, and batch HTML + PDF per report,
## against an older commit in the same run (AGAINST, default d635a04: before issue 11).
bench-reports: setup
	$(BIN)/python benchmarks/startup_bench.py --against $(or $(AGAINST),d635a04)
	$(BIN)/python benchmarks/batch_bench.py --against $(or $(AGAINST),d635a04) --clients 200

## Every view's JSON export byte-identical between BASE and the working tree (two data sets).
## NEW_SRC=DIR compares another src/ folder instead of the working tree's.
same-figures: setup
	$(if $(BASE),,$(error give BASE=<commit>))
	$(BIN)/python scripts/same_figures.py --base $(BASE) $(if $(NEW_SRC),--new-src $(NEW_SRC))
