"""Build pwh's dbt project on Apache Spark (dbt-spark, local Spark in the dbt process) from a DuckDB warehouse.

    uv sync --frozen --group spark
    .venv/bin/python deploy/spark/dbt_on_spark.py --warehouse data/warehouse/pwh.duckdb \\
        --work-dir /tmp/pwh-spark --run-date 2026-01-14

1. export: every source table the dbt project reads (the `_<source>__sources.yml` files: raw_crm,
   raw_events, raw_logs, raw_catalog, audit, and the ml tables the Python steps wrote) that exists in the
   warehouse is copied to Parquet under `<work-dir>/lake/<schema>/<table>/`;
2. register: `dbt run-operation register_parquet_sources` makes each a table of Spark's metastore in a
   database named like the DuckDB schema, so `source()` resolves unchanged (macros/spark.sql);
3. build: `dbt build --target spark` (seeds, staging, intermediate, marts, analyst views and their data
   tests; unit tests are DuckDB SQL fixtures and are left out) with the same vars as `pwh run`.

Spark's metastore, warehouse files, dbt's target/ and logs/ all go under `--work-dir` (DBT_PWH_SPARK_DIR
for profiles.yml), never into the repository. The built tables are Parquet files under
`<work-dir>/warehouse/<schema>.db/<table>/`. tests/spark compares them with the DuckDB marts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path

import yaml

from pwh.pipeline import dbt_vars
from pwh.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = ROOT / "dbt_project"
SPARK_DIR_VARIABLE = "DBT_PWH_SPARK_DIR"  # profiles.yml's spark output reads its metastore dir from it

log = logging.getLogger(__name__)


def source_tables(project_dir: Path = DBT_PROJECT_DIR) -> list[str]:
    """`schema.table` of every source table the dbt project declares, in file order."""
    tables = []
    for path in sorted((project_dir / "models").glob("**/_*__sources.yml")):
        for source in yaml.safe_load(path.read_text()).get("sources", []):
            schema = source.get("schema", source["name"])
            tables += [f"{schema}.{table.get('identifier', table['name'])}" for table in source["tables"]]
    return tables


def export_sources(warehouse: Path, lake: Path) -> list[str]:
    """Copy every source table that exists in the DuckDB `warehouse` to `<lake>/<schema>/<table>/`;
    returns the tables copied (the others have not been delivered yet, and staging reads them as empty)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        existing = {
            f"{schema}.{table}"
            for schema, table in connection.sql(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
        exported = []
        for name in source_tables():
            if name not in existing:
                log.info("%s is not in the warehouse: Spark reads it as empty", name)
                continue
            directory = lake / name.replace(".", "/")
            directory.mkdir(parents=True, exist_ok=True)
            for stale in directory.glob("*.parquet"):
                stale.unlink()
            connection.execute(
                f"copy (select * from {name}) to '{directory / 'part-0.parquet'}' (format parquet)"
            )
            exported.append(name)
    return exported


def dbt_on_spark(work_dir: Path, *args: str) -> None:
    """Run one dbt command in this process with `--target spark`; raise when it fails.

    In process on purpose: the session method starts Spark inside dbt's process, so several commands in
    one process share one Spark (one JVM start) and its metastore.
    """
    from dbt.cli.main import dbtRunner

    os.environ[SPARK_DIR_VARIABLE] = str(work_dir)
    command = [
        *args,
        "--project-dir", str(DBT_PROJECT_DIR),
        "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target", "spark",
        "--target-path", str(work_dir / "dbt" / "target"),
        "--log-path", str(work_dir / "dbt" / "logs"),
    ]  # fmt: skip
    result = dbtRunner().invoke(command)
    if not result.success:
        raise RuntimeError(
            f"dbt {args[0]} on Spark failed (log in {work_dir / 'dbt' / 'logs'}): {result.exception}"
        )


def build(
    warehouse: Path, work_dir: Path, run_date: dt.date, reporting_currency: str, tests: bool = True
) -> dict[str, float]:
    """Export the warehouse's sources, register them in Spark and build the dbt project there.
    Returns the seconds each step took."""
    work_dir = work_dir.resolve()
    seconds = {}
    started = time.monotonic()
    tables = export_sources(warehouse.resolve(), work_dir / "lake")
    seconds["export"] = time.monotonic() - started

    started = time.monotonic()
    arguments = {"lake": str(work_dir / "lake"), "tables": tables}
    dbt_on_spark(work_dir, "run-operation", "register_parquet_sources", "--args", json.dumps(arguments))
    seconds["register"] = time.monotonic() - started

    started = time.monotonic()
    variables = dbt_vars(run_date.isoformat(), reporting_currency)
    command = "build" if tests else "run"
    dbt_on_spark(work_dir, command, "--vars", json.dumps(variables), "--exclude-resource-type", "unit_test")
    seconds[command] = time.monotonic() - started
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="the DuckDB warehouse a pwh run built")
    parser.add_argument("--work-dir", type=Path, required=True, help="Spark's files (outside the repository)")
    parser.add_argument(
        "--run-date", type=dt.date.fromisoformat, required=True, help="the run's date, YYYY-MM-DD"
    )
    parser.add_argument(
        "--reporting-currency", help="as `pwh run` (default: the PWH_REPORTING_CURRENCY setting)"
    )
    parser.add_argument("--no-tests", action="store_true", help="dbt run instead of dbt build")
    options = parser.parse_args()
    if options.work_dir.resolve().is_relative_to(ROOT):
        parser.error(f"--work-dir must be outside the repository ({ROOT})")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    seconds = build(
        options.warehouse,
        options.work_dir,
        options.run_date,
        options.reporting_currency or load_settings().reporting_currency,
        not options.no_tests,
    )
    print("seconds: " + ", ".join(f"{step} {value:.0f}" for step, value in seconds.items()))
    print(f"Spark tables: {options.work_dir.resolve() / 'warehouse'}/<schema>.db/<table>/")


if __name__ == "__main__":
    sys.exit(main())
