"""The raw lake: every load's rows as Parquet under `<lake>/<dataset>/<table>/load_date=YYYY-MM-DD/`.

The lake path is a local folder or any fsspec URL (`s3://…`, `gs://…`; see `pwh.settings.url_to_fs`).
Files are named by dlt load id, so re-exporting a load overwrites the same file instead of adding a copy.
"""

from __future__ import annotations

import datetime as dt
import logging

import duckdb
import pyarrow.parquet as pq

from pwh.settings import url_to_fs

log = logging.getLogger(__name__)


def export_load(
    con: duckdb.DuckDBPyConnection, lake_url: str, dataset: str, table: str, load_id: str, load_date: dt.date
) -> str | None:
    """Write the rows `load_id` put into `dataset.table` to the lake; returns the file written, if any."""
    reader = con.execute(
        f'select * from "{dataset}"."{table}" where _dlt_load_id = ?', [load_id]
    ).to_arrow_reader(256_000)
    filesystem, root = url_to_fs(lake_url)
    folder = f"{root.rstrip('/')}/{dataset}/{table}/load_date={load_date.isoformat()}"
    path = f"{folder}/{load_id}.parquet"
    writer = None
    try:
        for batch in reader:
            if writer is None:
                filesystem.makedirs(folder, exist_ok=True)
                writer = pq.ParquetWriter(path, batch.schema, filesystem=filesystem, compression="zstd")
            writer.write_batch(batch)
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        log.debug("lake: wrote %s", path)
    return path if writer is not None else None
