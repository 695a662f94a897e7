"""The warehouse DuckDB file: connections and the small read helpers the CLI and steps share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

# Schemas pwh builds; anything else in the file (dlt's own tables aside) is someone else's.
SCHEMAS = ("raw_crm", "raw_events", "raw_logs", "raw_catalog", "audit", "seeds", "staging", "intermediate", "ml", "marts")


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
