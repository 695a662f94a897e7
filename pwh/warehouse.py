"""The warehouse DuckDB file: connections and the small read helpers the CLI and steps share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

# Schemas pwh builds; anything else in the file (dlt's own tables aside) is someone else's.
SCHEMAS = (
    "raw_crm",
    "raw_events",
    "raw_logs",
    "raw_catalog",
    "audit",
    "seeds",
    "staging",
    "intermediate",
    "ml",
    "marts",
    "analyst",  # dbt's masking views, published as the analyst warehouse (pwh.publish)
)


def sql_literal(value: str) -> str:
    """`value` as a SQL string literal, for the few statements that take no parameters (ATTACH, DDL)."""
    return "'" + value.replace("'", "''") + "'"


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `pwh run` first (or set PWH_WAREHOUSE_PATH)")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        con.execute("set TimeZone = 'UTC'; set enable_progress_bar = false")
        yield con
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: commit when the block ends, roll back when it raises (readers never see half)."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def replace_table(con: duckdb.DuckDBPyConnection, name: str, rows: object) -> None:
    """Create or replace table `name` (schema.table, created if missing) with `rows` (an Arrow table)."""
    con.execute(f"create schema if not exists {name.split('.')[0]}")
    con.register("new_rows", rows)
    try:
        con.execute(f"create or replace table {name} as select * from new_rows")
    finally:
        con.unregister("new_rows")


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(schema, table, rows) for every pwh table and view, dlt's bookkeeping tables left out."""
    names = con.execute(
        f"""
        select schema_name, table_name from duckdb_tables()
        where database_name = current_database() and schema_name in {SCHEMAS} and not starts_with(table_name, '_dlt')
        union all
        select schema_name, view_name from duckdb_views()
        where database_name = current_database() and schema_name in {SCHEMAS} and not internal
        order by 1, 2
        """
    ).fetchall()
    return [
        (schema, table, con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0])
        for schema, table in names
    ]
