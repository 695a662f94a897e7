"""Runs one source's dlt pipeline into the warehouse, exports the load to the lake, and audits it.

Each source has its own dlt pipeline (state, incremental cursors and loaded-file sets live with it under
the dlt folder and in the warehouse). After a load, the rows it put in each table are counted in the
warehouse itself, so the audit's `rows_loaded` is what really landed, not what was meant to.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import dlt

from ingestion import lake
from ingestion.crm import TABLES as CRM_TABLES
from pwh.settings import Settings
from pwh.warehouse import connect

log = logging.getLogger(__name__)

SOURCES = ("crm", "events", "logs", "catalog")
# source -> the table whose rows count as loaded (CRM: every table of the source)
MAIN_TABLES = {"events": "events", "logs": "page_visits", "catalog": "products"}

AUDIT_DDL = """
create schema if not exists audit;
create table if not exists audit.load_audit (
    run_id varchar not null,
    run_date date not null,
    source varchar not null,
    table_name varchar not null,
    load_ids varchar,
    files_read bigint,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    started_at timestamptz not null,
    finished_at timestamptz not null
);
"""


@dataclass(frozen=True)
class AuditRow:
    run_id: str
    run_date: dt.date
    source: str
    table_name: str
    load_ids: str
    files_read: int
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    started_at: dt.datetime
    finished_at: dt.datetime

    @property
    def is_balanced(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined


def _source(name: str, settings: Settings, run_date: dt.date, counts: dict[str, int]):
    """The dlt source for `name`, or None when the landing zone has nothing of it."""
    if name == "crm":
        from ingestion.crm import available_tables, crm_source

        tables = available_tables(settings.crm_url)
        return crm_source(settings.crm_url, tables) if tables else None
    if name == "events":
        from ingestion.events import events_source

        return events_source(settings.landing_dir, run_date, settings.warehouse_path, counts)
    if name == "logs":
        from ingestion.logs import logs_source

        return logs_source(settings.landing_dir, run_date, counts)
    if name == "catalog":
        from ingestion.catalog import catalog_source

        return catalog_source(settings.landing_dir, counts)
    raise ValueError(f"unknown source {name!r}; expected one of {', '.join(SOURCES)}")


def _rows_with_load(con, dataset: str, table: str, load_ids: list[str]) -> int:
    exists = con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [dataset, table]
    ).fetchone()[0]
    if not exists or not load_ids:
        return 0
    marks = ", ".join("?" for _ in load_ids)
    return con.execute(
        f'select count(*) from "{dataset}"."{table}" where _dlt_load_id in ({marks})', load_ids
    ).fetchone()[0]


def ingest_source(name: str, settings: Settings, run_date: dt.date, run_id: str) -> list[AuditRow]:
    """Load one source; returns its audit rows (also written to `audit.load_audit`)."""
    started_at = dt.datetime.now(dt.UTC)
    counts: dict[str, int] = {}
    dataset = f"raw_{name}"
    source = _source(name, settings, run_date, counts)
    load_ids: list[str] = []
    row_counts: dict[str, int] = {}
    if source is not None:
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        pipeline = dlt.pipeline(
            pipeline_name=f"pwh_{name}",
            destination=dlt.destinations.duckdb(str(settings.warehouse_path)),
            dataset_name=dataset,
            pipelines_dir=str(settings.dlt_dir),
        )
        info = pipeline.run(source, loader_file_format="parquet")
        info.raise_on_failed_jobs()
        load_ids = list(info.loads_ids)
        normalize_info = pipeline.last_trace.last_normalize_info
        row_counts = {
            table: rows
            for table, rows in (normalize_info.row_counts if normalize_info else {}).items()
            if not table.startswith("_dlt")
        }
    tables = list(CRM_TABLES) if name == "crm" else [MAIN_TABLES[name]]
    finished_at = dt.datetime.now(dt.UTC)
    rows: list[AuditRow] = []
    with connect(settings.warehouse_path) as con:
        for table in tables:
            loaded = _rows_with_load(con, dataset, table, load_ids)
            quarantined = 0 if name == "crm" else _rows_with_load(con, dataset, "quarantine", load_ids)
            read = row_counts.get(table, 0) if name == "crm" else counts.get("rows_read", 0)
            rows.append(
                AuditRow(
                    run_id,
                    run_date,
                    name,
                    table,
                    ",".join(load_ids),
                    counts.get("files", 0),
                    read,
                    loaded,
                    quarantined,
                    started_at,
                    finished_at,
                )
            )
        for load_id in load_ids:
            for table in [*tables, *([] if name == "crm" else ["quarantine"])]:
                if table in row_counts:
                    lake.export_load(con, settings.lake_url, dataset, table, load_id, run_date)
        write_audit(con, rows)
    for row in rows:
        if not row.is_balanced:
            log.error(
                "%s.%s: read %d != loaded %d + quarantined %d",
                name,
                row.table_name,
                row.rows_read,
                row.rows_loaded,
                row.rows_quarantined,
            )
    return rows


def write_audit(con, rows: list[AuditRow]) -> None:
    con.execute(AUDIT_DDL)
    for row in rows:
        con.execute(
            "delete from audit.load_audit where run_id = ? and source = ? and table_name = ?",
            [row.run_id, row.source, row.table_name],
        )
        con.execute(
            "insert into audit.load_audit values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row.run_id,
                row.run_date,
                row.source,
                row.table_name,
                row.load_ids,
                row.files_read,
                row.rows_read,
                row.rows_loaded,
                row.rows_quarantined,
                row.started_at,
                row.finished_at,
            ],
        )
