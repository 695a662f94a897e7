"""Order-independent fingerprints of warehouse tables, to show two runs built the same tables."""

from __future__ import annotations

from pathlib import Path

from pwh.warehouse import connect


def table_checksums(path: Path, schema: str, skip_columns: frozenset[str] = frozenset()) -> dict[str, tuple]:
    """{table: (rows, checksum)} for every table and view of `schema` in the DuckDB file at `path`.

    The checksum sums a hash of each row's values, so row order does not matter; `skip_columns` are
    left out (what legitimately differs between two runs, such as a run id or a timestamp of the run).
    Floating-point values are rounded to 9 digits: parallel sums may differ in their last bits.
    """
    with connect(path, read_only=True) as con:
        columns: dict[str, list[str]] = {}
        for table, column, kind in con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = ? order by table_name, ordinal_position",
            [schema],
        ).fetchall():
            columns.setdefault(table, [])
            if column not in skip_columns:
                rounded = kind in ("DOUBLE", "FLOAT", "REAL")
                columns[table].append(f'round("{column}", 9)' if rounded else f'"{column}"')
        sums = {}
        for table, kept in columns.items():
            row = ", ".join(kept) or "1"
            sums[table] = con.execute(
                f'select count(*), coalesce(sum(hash({row})), 0) from "{schema}"."{table}"'
            ).fetchone()
    return sums
