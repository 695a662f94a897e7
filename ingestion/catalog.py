"""Product catalog: `catalog/products.csv` (or `.parquet`) -> `raw_catalog.products`, merged by product_id.

The catalog is a full snapshot that the shop re-exports; it is reloaded when its content changes (the
file's hash is the resource state). Rows without a product_id, with a price that is not a number from 0
to MAX_PRICE, a bad launch date, the wrong number of CSV fields, invalid UTF-8, more than MAX_LINE_BYTES,
or a repeated product_id are quarantined; `line_number` is the CSV line the row starts on (the header is
line 1), or the row's 1-based position in a Parquet file. A file whose header (CSV) or columns (Parquet)
are wrong, or that cannot be parsed at all, stops the load with an error naming it.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import re
from pathlib import Path

import dlt
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.files import MAX_LINE_BYTES, LineValidator, ReadCounts, SourceDataError, as_quarantine

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
# The same bound as product.price in the event schema: above a billion is taken for an export bug.
MAX_PRICE = 1_000_000_000
UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by errors="surrogateescape"


def _read_rows(path: Path, relative: str) -> pa.Table:
    """All rows as text columns plus source_file, line_number, raw_line and read_error."""
    if path.suffix == ".parquet":
        rows, numbers, raw, errors = _parquet_rows(path, relative)
    else:
        rows, numbers, raw, errors = _csv_rows(path, relative)
    errors = [
        error or (None if len(row) == len(COLUMNS) else f"expected {len(COLUMNS)} fields, got {len(row)}")
        for row, error in zip(rows, errors, strict=True)
    ]
    padded = [(row + [None] * len(COLUMNS))[: len(COLUMNS)] for row in rows]
    data = {name: pa.array([row[i] for row in padded], pa.string()) for i, name in enumerate(COLUMNS)}
    return pa.table(
        {
            **data,
            "source_file": pa.array([relative] * len(rows), pa.string()),
            "line_number": pa.array(numbers, pa.int64()),
            "raw_line": pa.array(raw, pa.string()),
            "read_error": pa.array(errors, pa.string()),
        }
    )


Rows = tuple[list[list[str | None]], list[int], list[str], list[str | None]]


def _parquet_rows(path: Path, relative: str) -> Rows:
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise SourceDataError(f"{relative}: not a readable Parquet file: {exc}") from exc
    missing = [name for name in COLUMNS if name not in table.column_names]
    if missing:
        raise SourceDataError(f"{relative}: missing column(s) {', '.join(missing)}")
    records = table.select(list(COLUMNS)).to_pylist()
    rows = [[None if value is None else str(value) for value in record.values()] for record in records]
    raw = [json.dumps(record, default=str) for record in records]
    return rows, list(range(1, len(rows) + 1)), raw, [None] * len(rows)


def _csv_rows(path: Path, relative: str) -> Rows:
    """The CSV's rows with the line each starts on, its text as written and any byte-level error."""
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]  # Excel's "CSV UTF-8" starts with one
    # bytes that are not UTF-8 are kept (as lone surrogates) to quarantine exactly the rows that hold them
    text = data.decode("utf-8", errors="surrogateescape")
    consumed: list[str] = []  # the lines the csv reader took for the current row

    def lines():
        for line in io.StringIO(text, newline=""):  # \r\n inside a quoted field stays part of the field
            consumed.append(line)
            yield line

    # a field may be as long as the file (an unclosed quote): MAX_LINE_BYTES is checked per row below
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(lines())
    rows: list[list[str | None]] = []
    numbers: list[int] = []
    raw: list[str] = []
    errors: list[str | None] = []
    try:
        header = next(reader, None)
        if header is not None and tuple(name.strip() for name in header) != COLUMNS:
            raise SourceDataError(
                f"{relative} line 1: header must be {','.join(COLUMNS)}, got {_clean(','.join(header))}"
            )
        first_line = reader.line_num + 1
        consumed.clear()
        for fields in reader:
            start, end, record = first_line, reader.line_num, "".join(consumed).rstrip("\r\n")
            first_line = end + 1
            consumed.clear()
            if not any(field.strip() for field in fields):
                continue  # a blank line
            error = None
            size = len(record.encode("utf-8", errors="surrogateescape"))
            if size > MAX_LINE_BYTES:
                error = f"row too long: {size} bytes (at most {MAX_LINE_BYTES})"
            elif UNDECODABLE.search(record):
                error = f"invalid UTF-8 at byte {_first_bad_byte(record)}"
            elif len(fields) != len(COLUMNS) and end > start:
                error = (
                    f"expected {len(COLUMNS)} fields, got {len(fields)} "
                    f"(the row runs from line {start} to line {end}: an unclosed quote?)"
                )
            rows.append([_clean(field) for field in fields])
            numbers.append(start)
            raw.append(_clean(record))
            errors.append(error)
    except csv.Error as exc:
        raise SourceDataError(f"{relative} line {reader.line_num}: not readable as CSV: {exc}") from exc
    return rows, numbers, raw, errors


def _clean(text: str) -> str:
    """Text Arrow can hold: bytes that were not UTF-8 become U+FFFD."""
    if not UNDECODABLE.search(text):
        return text
    return text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")


def _first_bad_byte(text: str) -> int:
    try:
        text.encode("utf-8", errors="surrogateescape").decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return 0


class ProductValidator(LineValidator):
    data_columns = (*COLUMNS, "source_file", "line_number")
    keys = ("product_id",)
    sql = f"""
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
                when price is null or not isfinite(price) or price < 0 or price > {MAX_PRICE}
                    then 'price must be a number from 0 to {MAX_PRICE}, got '''
                        || coalesce(left(price_text, 80), '') || ''''
                when launched_at is null and nullif(trim(launched_at_text), '') is not null
                    then 'invalid launched_at date: ''' || left(launched_at_text, 80) || ''''
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
def products(landing_dir: Path, counts: ReadCounts):
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
    counts.rows_read["products"] += rows.num_rows
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
    counts.files = 1


@dlt.source(name="catalog")
def catalog_source(landing_dir: Path, counts: ReadCounts):
    return products(landing_dir, counts)
