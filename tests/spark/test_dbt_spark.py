"""dbt on Apache Spark: the project builds unchanged with `--target spark` (dbt-spark, a local Spark in
dbt's process) from the raw tables of a real `pwh run`, and every mart holds what the DuckDB mart holds.

Marked `spark` (deselected by default; `make test-spark` installs the spark group and runs it). The
build takes minutes: one Spark start, the seeds, 35 models and their 134 data tests, one query each.

What is compared, per mart table: the row count, the column names in order, and per column the count of
non-null values, the count of distinct values, and min, max and sum (numbers), min and max (dates and
times), min, max and total length (text), the count of trues (booleans). Both sides are summarised by
the same DuckDB SQL: the DuckDB mart in the warehouse, the Spark mart through the Parquet files Spark
wrote, so a difference is in the data and never in how two engines count. Sums of floating-point columns
are compared to 1e-9 relative (1e-6 for 4-byte floats: the engines add in different orders); everything else must be equal.
The ML tables (identity map, page-theme scores, merges) come in as sources, so the marts built on them
must match too.
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.sample import SAMPLE_RUN_DATE

# the sample run and the Spark build are minutes each on two shared cores
pytestmark = [pytest.mark.spark, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "spark" / "dbt_on_spark.py"
NUMBERS = ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "DECIMAL", "DOUBLE", "FLOAT")
INEXACT = ("DOUBLE", "FLOAT")


@pytest.fixture(scope="module")
def warehouse(sample_run: tuple[Path, str]) -> Path:
    data_dir, _ = sample_run
    return data_dir / "warehouse" / "pwh.duckdb"


@pytest.fixture(scope="module")
def spark_warehouse(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Spark's table files after deploy/spark/dbt_on_spark.py built the project from `warehouse`."""
    for module in ("pyspark", "dbt.adapters.spark"):  # a failure, not a skip: a skip would look like a pass
        if importlib.util.find_spec(module) is None:
            pytest.fail(
                f"{module} is missing: run `make test-spark`, which installs the spark dependency group"
            )
    work_dir = tmp_path_factory.mktemp("dbt_spark")
    command = [
        sys.executable, str(SCRIPT),
        "--warehouse", str(warehouse),
        "--work-dir", str(work_dir),
        "--run-date", SAMPLE_RUN_DATE.isoformat(),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=work_dir, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return work_dir / "warehouse"


def aggregates(columns: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(label, DuckDB type, DuckDB SQL) of each value compared, for the (name, DuckDB type) `columns`."""
    rows = [("rows", "BIGINT", "count(*)")]
    for name, data_type in columns:
        column = f'"{name}"'
        kinds = {"non-null": f"count({column})"}
        if data_type.startswith(NUMBERS):
            value = f"round({column}, 6)" if data_type.startswith(INEXACT) else column
            kinds |= {
                "distinct": f"count(distinct {value})",
                "sum": f"sum(cast({column} as double))",
                "min": f"min(cast({column} as double))",
                "max": f"max(cast({column} as double))",
            }
        elif data_type.startswith(("DATE", "TIMESTAMP")):
            kinds |= {
                "distinct": f"count(distinct {column})",
                "min": f"cast(cast(min({column}) as timestamp) as varchar)",
                "max": f"cast(cast(max({column}) as timestamp) as varchar)",
            }
        elif data_type == "BOOLEAN":
            kinds["trues"] = f"sum(case when {column} then 1 else 0 end)"
        else:
            kinds |= {
                "distinct": f"count(distinct {column})",
                "min": f"min({column})",
                "max": f"max({column})",
                "total length": f"sum(length({column}))",
            }
        rows += [(f"{name} {kind}", data_type, sql) for kind, sql in kinds.items()]
    return rows


def same(duckdb_value: object, spark_value: object, data_type: str) -> bool:
    if isinstance(duckdb_value, float) and isinstance(spark_value, float):
        # FLOAT columns hold 4-byte floats: a last-bit difference is 1e-7 relative
        tolerance = 1e-6 if data_type == "FLOAT" else 1e-9
        return math.isclose(duckdb_value, spark_value, rel_tol=tolerance, abs_tol=tolerance)
    return duckdb_value == spark_value


def test_marts_on_spark_match_duckdb(warehouse: Path, spark_warehouse: Path) -> None:
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    connection.execute(f"attach '{warehouse}' as pwh (read_only)")
    # the marts dbt builds (pwh's Python steps add more tables to schema marts: segments, model runs)
    marts = sorted(path.stem for path in (ROOT / "dbt_project" / "models" / "marts").glob("**/*.sql"))
    assert sorted(path.name for path in (spark_warehouse / "marts.db").iterdir()) == marts

    differences = {}
    for mart in marts:
        columns = connection.sql(
            "select column_name, data_type from information_schema.columns"
            f" where table_catalog = 'pwh' and table_schema = 'marts' and table_name = '{mart}'"
            " order by ordinal_position"
        ).fetchall()
        spark_relation = f"read_parquet('{spark_warehouse / 'marts.db' / mart}/*.parquet')"
        spark_columns = [
            name for name, *_ in connection.sql(f"describe select * from {spark_relation}").fetchall()
        ]
        assert spark_columns == [name for name, _ in columns], mart

        compared = aggregates(columns)
        summary = f"select {', '.join(sql for _, _, sql in compared)} from "
        duckdb_row = connection.sql(summary + f"pwh.marts.{mart}").fetchone()
        spark_row = connection.sql(summary + spark_relation).fetchone()
        assert duckdb_row[0] > 0 or mart == "person_merges", (
            f"{mart} is empty: the sample tests nothing there"
        )
        for (label, data_type, _), duckdb_value, spark_value in zip(
            compared, duckdb_row, spark_row, strict=True
        ):
            if not same(duckdb_value, spark_value, data_type):
                differences[f"{mart}: {label}"] = (duckdb_value, spark_value)
    assert not differences, "DuckDB vs Spark:\n" + "\n".join(
        f"{key}: {value}" for key, value in differences.items()
    )
