"""The raw lake: each load's rows as Parquet partitioned by load date, at a folder or any fsspec URL."""

import dataclasses

import fsspec
import pyarrow.parquet as pq

from pwh.pipeline import ingest
from pwh.warehouse import connect
from tests.sample import SAMPLE_RUN_DATE


def test_lake_at_an_fsspec_url_holds_exactly_the_loaded_rows(sample_settings):
    settings = dataclasses.replace(sample_settings, lake_url="memory://pwh-test-lake")
    ingest(settings, SAMPLE_RUN_DATE, "run-1", ("events", "catalog"))
    memory = fsspec.filesystem("memory")
    try:
        for dataset, table in [
            ("raw_events", "events"),
            ("raw_events", "quarantine"),
            ("raw_catalog", "products"),
        ]:
            files = memory.glob(f"/pwh-test-lake/{dataset}/{table}/load_date={SAMPLE_RUN_DATE}/*.parquet")
            assert len(files) == 1, (dataset, table, files)
            lake_rows = pq.read_table(files[0], filesystem=memory).num_rows
            with connect(settings.warehouse_path, read_only=True) as con:
                warehouse_rows = con.execute(f"select count(*) from {dataset}.{table}").fetchone()[0]
            assert lake_rows == warehouse_rows > 0
    finally:
        memory.rm("/pwh-test-lake", recursive=True)
