# PermitFlow: two commands do everything — `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-pg bench lint install clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Set up and start the product on the embedded default (SQLite, in-process jobs, simulators), with demo data.
run: $(STAMP)
	$(BIN)/permitflow run

## Set up and run the whole suite (SQLite unless DATABASE_URL/REDIS_URL point at PostgreSQL/Redis).
test: $(STAMP)
	$(BIN)/python -m pytest

## The same suite on PostgreSQL + Redis (local servers; .ci/run starts them if they are down).
test-pg: $(STAMP)
	DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/5 \
		$(BIN)/python -m pytest

## Benchmarks: prints figures and writes bench/results.json.
bench: $(STAMP)
	$(BIN)/python bench/bench_platform.py --backend all --json-out bench/results.json
	$(BIN)/python bench/bench_crypto.py
	$(BIN)/python bench/bench_reports.py --json-out bench/results.json
	$(BIN)/python bench/bench_web.py --backend all --json-out bench/results.json

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info
