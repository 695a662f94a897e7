# pwh: `make demo` runs the whole pipeline on generated data; `make test` runs the test suite.
# Both install what they need first (uv + the committed uv.lock into .venv).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV := $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
DEMO_DATE ?= 2026-01-14
SCALE ?= 1m
CHROMIUM := /usr/bin/chromium

export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export RUNTIME__DLTHUB_TELEMETRY := false
export GX_ANALYTICS_ENABLED := false
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export DO_NOT_TRACK := 1

.PHONY: install browser demo test lint format airflow docs bench bench-spark clean

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==0.13.9

install: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

demo: install  ## generate sample data and run the nightly pipeline on it
	$(BIN)/pwh generate --users 2000 --days 14 --start-date 2026-01-01
	$(BIN)/pwh run --date $(DEMO_DATE)

# tests/browser drive Debian's Chromium (Playwright's own browser download needs the internet)
browser: $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "The browser tests (tests/browser) need Debian's chromium at $@. Install it as root:" \
	    "apt-get install chromium (make test does this itself when run as root on Debian)." >&2; \
	  exit 1; \
	fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# pytest-xdist processes for `make test`: CI has 2 cores (tests/conftest.py groups the tests for them)
TEST_WORKERS ?= 2

test: install browser  ## the whole test suite (what CI runs)
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=15

.PHONY: test-spark
test-spark: install  ## dbt on Apache Spark: builds the marts with dbt-spark from a sample run, compares them with DuckDB's
	$(UV) sync --frozen --group spark
	$(BIN)/pytest -m spark tests/spark

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

airflow: install  ## Airflow with the nightly DAG on http://127.0.0.1:8080 (login admin, generated password)
	$(BIN)/pwh airflow

.PHONY: airflow-celery
airflow-celery: install  ## pwh_nightly once on CeleryExecutor (Debian's Redis + PostgreSQL, all on 127.0.0.1): docs/scaling.md
	$(UV) sync --frozen --group celery
	$(BIN)/python deploy/celery/run_dag.py $(CELERY_ARGS)

docs: install  ## dbt docs site for the current warehouse: data/dbt/target/static_index.html
	$(BIN)/pwh docs

bench: install  ## per-stage wall time, peak RSS, rows at SCALE events (1m, 5m, 20m): see docs/benchmarks.md
	$(BIN)/python benchmarks/stages.py --scale $(SCALE)

bench-spark: install  ## the full run at SCALE beside the classic Spark stack (PySpark local, MLlib ALS) on the same files
	$(UV) sync --frozen --group spark
	$(BIN)/python benchmarks/stages.py --scale $(SCALE) --spark --no-incremental

clean:
	rm -rf data .pytest_cache dbt_project/target dbt_project/logs
