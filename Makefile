# Everything a fresh machine with python3 and make needs. `make demo` and `make test` are the
# two commands of the README; `.ci/run` calls `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLEXPOWER_LANDING_DIR ?= $(CURDIR)/data/landing
export FLEXPOWER_WAREHOUSE ?= $(CURDIR)/data/warehouse/flexpower.duckdb
export DAGSTER_HOME ?= $(CURDIR)/data/dagster_home

SAMPLE_ARGS := --assets 12 --start 2025-06-01 --days 30 --seed 7 --public-trades-per-day 20000 --bidding

.PHONY: venv demo test ui bench bench-runs chromium postgresql

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $(DAGSTER_HOME)/dagster.yaml

## demo: build the environment, simulate the sample landing zone if missing, materialize every sample day
# (the simulator writes complete files, so they need no settle time before they are read)
demo: export FLEXPOWER_MIN_FILE_AGE_S ?= 0
demo: venv $(DAGSTER_HOME)/dagster.yaml
	@test -d "$(FLEXPOWER_LANDING_DIR)/crm" || $(BIN)/flexpower simulate $(SAMPLE_ARGS) --out "$(FLEXPOWER_LANDING_DIR)"
	$(BIN)/flexpower demo

## chromium: the browser of the portal's browser test (Debian's package, installed when missing)
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

## postgresql: Debian's PostgreSQL server for the run benchmark on PostgreSQL and its test (installed
## with apt-get when missing, sudo only when not root; each use starts a throwaway server of its own)
postgresql: venv
	$(BIN)/python -m flexpower_assets.bench.postgres install

## test: lint (ruff: pyflakes, import order, docstrings, complexity), then the whole test suite
## with its coverage floor: line coverage of flexpower_assets, resources and schedules, measured
## at 87 % over the whole suite (2 vCPUs, 2026-12-01), tests/unit alone 67 %
COVERAGE_FLOOR ?= 86
test: venv chromium postgresql
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --cov --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

## ui: the Dagster UI on the same landing zone and warehouse
ui: venv $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

## bench: 1,000 assets for one delivery day, with the pandas baseline side by side
bench: venv
	$(BIN)/flexpower bench --assets 1000 --days 1 --baseline

## bench-runs: bid runs an hour through the daemon and the queued run coordinator on PostgreSQL
bench-runs: venv postgresql
	$(BIN)/flexpower bench runs --storage postgres --runs 30 --clients 4
