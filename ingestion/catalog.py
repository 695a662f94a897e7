"""Product catalog: `catalog/products.csv` (or `.parquet`) -> `raw_catalog.products`, merged by product_id.

The catalog is a full snapshot that the shop re-exports; it is reloaded when its content changes (the
file's hash is the resource state). Rows without a product_id, with a non-numeric or negative price, a
bad launch date, the wrong number of CSV fields, or a repeated product_id are quarantined.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from pathlib import Path

import dlt
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.files import LineValidator, as_quarantine

log = logging.getLogger(__name__)

COLUMNS = (
    "product_id",
    "title",
    "description",
    "category",
    "brand",
    "price",
    "currency",
    "tags",
    "launched_at",
)
CANDIDATES = ("catalog/products.parquet", "catalog/products.csv")


def _read_rows(path: Path, relative: str) -> pa.Table:
    """All rows as text columns plus source_file, line_number (data row, 1-based), raw_line, read_error."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        missing = [name for name in COLUMNS if name not in table.column_names]
        if missing:
            raise ValueError(f"{relative}: missing column(s) {', '.join(missing)}")
        records = table.select(list(COLUMNS)).to_pylist()
        rows = [[None if value is None else str(value) for value in record.values()] for record in records]
        raw = [json.dumps(record, default=str) for record in records]
    else:
        reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8", errors="replace"), newline=""))
        header = next(reader, None)
        if header is not None and tuple(name.strip() for name in header) != COLUMNS:
            raise ValueError(f"{relative}: header must be {','.join(COLUMNS)}, got {','.join(header)}")
        rows = [fields for fields in reader if any(field.strip() for field in fields)]
        raw = [",".join(fields) for fields in rows]
    errors = [
        None if len(row) == len(COLUMNS) else f"expected {len(COLUMNS)} fields, got {len(row)}"
        for row in rows
    ]
    padded = [(row + [None] * len(COLUMNS))[: len(COLUMNS)] for row in rows]
    data = {name: pa.array([row[i] for row in padded], pa.string()) for i, name in enumerate(COLUMNS)}
    return pa.table(
        {
            **data,
            "source_file": pa.array([relative] * len(rows), pa.string()),
            "line_number": pa.array(range(1, len(rows) + 1), pa.int64()),
            "raw_line": pa.array(raw, pa.string()),
            "read_error": pa.array(errors, pa.string()),
        }
    )


class ProductValidator(LineValidator):
    data_columns = (*COLUMNS, "source_file", "line_number")
    keys = ("product_id",)
    sql = """
    with typed as (
        select
            nullif(trim(product_id), '') as product_id,
            title,
            description,
            category,
            brand,
            try_cast(price as double) as price,
            price as price_text,
            upper(nullif(trim(currency), '')) as currency,
            tags,
            try_cast(nullif(trim(launched_at), '') as date) as launched_at,
            launched_at as launched_at_text,
            source_file,
            line_number,
            raw_line,
            read_error
        from lines
    ),
    checked as (
        select
            *,
            case
                when read_error is not null then read_error
                when product_id is null then 'missing required field product_id'
                when price is null or price < 0 or isnan(price)
                    then 'price must be a non-negative number, got ''' || coalesce(price_text, '') || ''''
                when launched_at is null and nullif(trim(launched_at_text), '') is not null
                    then 'invalid launched_at date: ''' || launched_at_text || ''''
            end as reason
        from typed
    )
    select
        * exclude (reason),
        case
            when reason is null and row_number() over (
                partition by product_id, reason is null order by line_number
            ) > 1 then 'duplicate product_id (earlier row of the same file)'
            else reason
        end as reason
    from checked
    """


@dlt.resource(name="products", write_disposition="merge", primary_key="product_id")
def products(landing_dir: Path, counts: dict[str, int]):
    """The catalog snapshot when it changed since the last load; rejected rows go to quarantine."""
    state = dlt.current.resource_state()
    path = next((landing_dir / name for name in CANDIDATES if (landing_dir / name).exists()), None)
    if path is None:
        log.info("catalog: no catalog file in %s", landing_dir)
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    relative = path.relative_to(landing_dir).as_posix()
    if state.get("loaded_files", {}).get(relative) == digest:
        log.info("catalog: %s unchanged since the last load", relative)
        return
    rows = _read_rows(path, relative)
    counts["rows_read"] = counts.get("rows_read", 0) + rows.num_rows
    validator = ProductValidator()
    try:
        valid, quarantined = validator(rows)
    finally:
        validator.close()
    if valid.num_rows:
        yield valid
    if quarantined.num_rows:
        yield as_quarantine(quarantined)
    state["loaded_files"] = {relative: digest}
    counts["files"] = 1


@dlt.source(name="catalog")
def catalog_source(landing_dir: Path, counts: dict[str, int]):
    return products(landing_dir, counts)
