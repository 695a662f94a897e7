"""Runs one source's dlt pipeline into the warehouse, exports the load to the lake, and audits it.

Each source has its own dlt pipeline (state, incremental cursors and loaded-file sets live with it under
the dlt folder and in the warehouse). It runs in three phases, so that the sources can read side by side
while only one process writes the warehouse (DuckDB has one writer): `prepare_source` (restore state,
load a killed run's leftovers; writes), `extract_source` (read the source into a dlt load package: dlt's
extract and normalize; never writes the warehouse) and `load_source` (load the packages, count, export to
the lake, audit; writes). `ingest_source` runs the three for one source.

After a load, the rows it put in each table are counted in the warehouse itself, so the audit's
`rows_loaded` is what really landed, not what was meant to.
`new_fields` reports schema drift: the fields of the input that the source's schema does not define,
with how many loaded rows carry them (events), and the columns the load added to a table that existed
before (dlt's schema evolution: a new CRM column). The log says the same, and what the load quarantined.
`rows_suppressed` counts the rows of people `pwh forget` erased, dropped before loading
(ingestion/suppression.py): rows read = rows loaded + rows quarantined + rows suppressed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion import SOURCES, lake
from ingestion.crm import TABLES as CRM_TABLES
from ingestion.files import ReadCounts, SourceDataError
from ingestion.suppression import SuppressionList
from pwh.faults import failpoint
from pwh.settings import Settings
from pwh.warehouse import connect

log = logging.getLogger(__name__)

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
alter table audit.load_audit add column if not exists new_fields varchar;
alter table audit.load_audit add column if not exists rows_suppressed bigint default 0;
"""
AUDIT_COLUMNS = (
    "run_id", "run_date", "source", "table_name", "load_ids", "files_read", "rows_read", "rows_loaded",
    "rows_quarantined", "started_at", "finished_at", "new_fields", "rows_suppressed",
)  # fmt: skip


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
    new_fields: str | None = None  # "loyalty_tier (3), tier (new column)": schema drift, see above
    rows_suppressed: int = 0  # rows of people on the suppression list (ingestion/suppression.py), dropped

    @property
    def is_balanced(self) -> bool:
        return self.rows_read == self.rows_loaded + self.rows_quarantined + self.rows_suppressed


def _source(name: str, settings: Settings, run_date: dt.date, counts: ReadCounts):
    """The dlt source for `name`, or None when the landing zone has nothing of it."""
    suppressed = SuppressionList.load(settings.data_dir)
    if name == "crm":
        from ingestion.crm import available_tables, crm_source

        tables = available_tables(settings.crm_url)
        return crm_source(settings.crm_url, tables, run_date, counts, suppressed) if tables else None
    if name == "events":
        from ingestion.events import events_source

        return events_source(settings.landing_dir, run_date, settings.warehouse_path, counts, suppressed)
    if name == "logs":
        from ingestion.logs import logs_source

        return logs_source(settings.landing_dir, run_date, counts, suppressed)
    if name == "catalog":
        from ingestion.catalog import catalog_source

        return catalog_source(settings.landing_dir, counts)
    raise ValueError(f"unknown source {name!r}; expected one of {', '.join(SOURCES)}")


def _rows_with_load(
    con, dataset: str, table: str, load_ids: list[str], source_file: str | None = None
) -> int:
    """Rows of `dataset.table` the loads wrote (only those read from `source_file`, when given)."""
    exists = con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [dataset, table]
    ).fetchone()[0]
    if not exists or not load_ids:
        return 0
    marks = ", ".join("?" for _ in load_ids)
    where = "" if source_file is None else " and source_file = ?"
    return con.execute(
        f'select count(*) from "{dataset}"."{table}" where _dlt_load_id in ({marks}){where}',
        [*load_ids, *([] if source_file is None else [source_file])],
    ).fetchone()[0]


def _log_quarantine(con, name: str, load_ids: list[str]) -> None:
    """How many rows the loads quarantined, and the most frequent reasons."""
    dataset = f"raw_{name}"
    total = _rows_with_load(con, dataset, "quarantine", load_ids)
    if not total:
        return
    log.warning("%s: %d row(s) quarantined in %s.quarantine", name, total, dataset)
    marks = ", ".join("?" for _ in load_ids)
    reasons = con.execute(
        f"select reason, count(*), min(source_file || coalesce(':' || line_number, '')) "
        f"from {dataset}.quarantine where _dlt_load_id in ({marks}) group by reason order by 2 desc, 1 limit 5",
        load_ids,
    ).fetchall()
    for reason, rows, first in reasons:
        log.warning("%s: %d x %s (first at %s)", name, rows, reason[:200], first)


def _columns(pipeline) -> dict[str, set[str]]:
    """The columns of every table in the pipeline's schema (none before its first run)."""
    if not pipeline.default_schema_name:
        return {}
    return {name: set(table.get("columns", {})) for name, table in pipeline.default_schema.tables.items()}


def _explained(name: str, settings: Settings, exc: PipelineStepFailed) -> Exception:
    """The error to stop the run with: what the source found wrong with its input, without dlt's
    wrapping; for the CRM, the rows whose values it could not read, when that is what failed."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, SourceDataError):
            return cause
        cause = cause.__cause__
    if name == "crm":
        from ingestion.crm import available_tables, unreadable_values

        problems = unreadable_values(settings.crm_url, available_tables(settings.crm_url))
        if problems:
            return SourceDataError(
                "CRM values the warehouse cannot hold (fix them in the CRM): " + "; ".join(problems)
            )
    return exc


def _pipeline(name: str, settings: Settings) -> dlt.Pipeline:
    """The source's dlt pipeline. Not shared between threads: dlt's pipeline context is per thread."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=f"pwh_{name}",
        destination=dlt.destinations.duckdb(str(settings.warehouse_path)),
        dataset_name=f"raw_{name}",
        pipelines_dir=str(settings.dlt_dir),
    )


@contextmanager
def _explaining(name: str, settings: Settings) -> Iterator[None]:
    """Re-raise dlt's step failures as what the source found wrong with its input, when it did."""
    try:
        yield
    except PipelineStepFailed as exc:
        explained = _explained(name, settings, exc)
        if explained is exc:
            raise
        raise explained from exc


READS_FOLDER = "pwh_reads"  # in a pipeline's working dir: what the extract of each pending package read


def _reads_path(pipeline: dlt.Pipeline, load_id: str) -> Path:
    return Path(pipeline.working_dir) / READS_FOLDER / f"{load_id}.json"


@dataclass(frozen=True)
class Extract:
    """What an extract tells the load of its package: what it read, when, and the columns before it.

    Kept as JSON beside the package, one file per load id, because the load may run in another process
    (an Airflow task) or after a crash.
    """

    started_at: dt.datetime
    counts: ReadCounts
    columns_before: dict[str, list[str]]

    def save(self, pipeline: dlt.Pipeline, load_id: str) -> None:
        path = _reads_path(pipeline, load_id)
        path.parent.mkdir(exist_ok=True)
        data = {
            "started_at": self.started_at.isoformat(),
            "counts": self.counts.as_json(),
            "columns_before": self.columns_before,
        }
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(path)  # whole or absent, even if killed while writing

    @classmethod
    def saved(cls, pipeline: dlt.Pipeline, load_id: str) -> Extract | None:
        path = _reads_path(pipeline, load_id)
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        started_at = dt.datetime.fromisoformat(data["started_at"])
        return cls(started_at, ReadCounts.from_json(data["counts"]), data["columns_before"])


def prepare_source(name: str, settings: Settings) -> None:
    """What dlt's `run` does before it extracts; writes the warehouse, so one source at a time, before
    the extracts: restore the pipeline's state from the warehouse when that is newer (a lost dlt folder),
    and load what a killed run left extracted (audited by `load_source`), so that the extract starts from
    what the warehouse holds (the events extract checks its ids against the loaded ones)."""
    pipeline = _pipeline(name, settings)
    with _explaining(name, settings):
        pipeline.sync_destination()
    _load_pending(name, settings, pipeline)


def extract_source(name: str, settings: Settings, run_date: dt.date) -> ReadCounts:
    """Read the source's new data into a dlt load package (extract + normalize) and save what it read
    beside it; returns that. Never writes the warehouse (the events extract reads it), so the sources'
    extracts may run side by side, in threads or processes."""
    started_at = dt.datetime.now(dt.UTC)
    counts = ReadCounts()
    source = _source(name, settings, run_date, counts)
    if source is None:
        return counts
    pipeline = _pipeline(name, settings)
    columns_before = {table: sorted(columns) for table, columns in _columns(pipeline).items()}
    with _explaining(name, settings):
        extracted = pipeline.extract(source, loader_file_format="parquet")
        (load_id,) = extracted.loads_ids  # one schema, one package
        pipeline.normalize()
    if load_id in pipeline.list_normalized_load_packages():  # normalize drops a package with nothing new
        Extract(started_at, counts, columns_before).save(pipeline, load_id)
    return counts


def _load_pending(name: str, settings: Settings, pipeline: dlt.Pipeline) -> None:
    """Load every package extracted and not loaded yet into the warehouse."""
    with _explaining(name, settings):
        if pipeline.list_extracted_load_packages():  # a run killed before normalizing
            pipeline.normalize()
        info = pipeline.load()
    if info is not None:
        info.raise_on_failed_jobs()


def load_source(name: str, settings: Settings, run_date: dt.date, run_id: str) -> list[AuditRow]:
    """Load the source's extracted packages, export them to the lake and audit them; returns the audit
    rows (also written to `audit.load_audit`). Writes the warehouse: one source at a time.

    Audits every load of the source no audit row lists yet: this run's, and those of a run killed
    after loading (see `_unaudited_loads`). A load's rows read are what its extract saved, or, when a
    kill came before that was saved, what it loaded and quarantined."""
    dataset = f"raw_{name}"
    pipeline = _pipeline(name, settings)
    _load_pending(name, settings, pipeline)
    failpoint(f"ingest.{name}.loaded")  # test hook (pwh/faults.py): loaded, neither exported nor audited
    finished_at = dt.datetime.now(dt.UTC)
    tables = list(CRM_TABLES) if name == "crm" else [MAIN_TABLES[name]]
    with connect(settings.warehouse_path) as con:
        load_ids = _unaudited_loads(con, name, dataset)
        extracts = {load_id: Extract.saved(pipeline, load_id) for load_id in load_ids}
        saved = [extract for extract in extracts.values() if extract is not None]
        unsaved = [load_id for load_id, extract in extracts.items() if extract is None]
        counts = ReadCounts()
        for extract in saved:
            counts.add(extract.counts)
        started_at = min((extract.started_at for extract in saved), default=finished_at)
        drift = _drift(name, pipeline, counts, saved[0].columns_before if saved else {}, tables[0])
        rows: list[AuditRow] = []
        for table in tables:
            loaded = _rows_with_load(con, dataset, table, load_ids)
            # the CRM's quarantine holds the rows of its three tables: source_file names the table
            from_table = table if name == "crm" else None
            quarantined = _rows_with_load(con, dataset, "quarantine", load_ids, from_table)
            read_unsaved = _rows_with_load(con, dataset, table, unsaved) + _rows_with_load(
                con, dataset, "quarantine", unsaved, from_table
            )
            rows.append(
                AuditRow(
                    run_id,
                    run_date,
                    name,
                    table,
                    ",".join(load_ids),
                    counts.files,
                    counts.rows_read[table] + read_unsaved,
                    loaded,
                    quarantined,
                    started_at,
                    finished_at,
                    ", ".join(drift.get(table, [])) or None,
                    counts.rows_suppressed[table],
                )
            )
        for load_id in load_ids:
            for table in [*tables, "quarantine"]:
                if _rows_with_load(con, dataset, table, [load_id]):
                    lake.export_load(con, settings.lake_url, dataset, table, load_id, run_date)
        _log_quarantine(con, name, load_ids)
        write_audit(con, rows)
    for load_id in load_ids:  # audited: no run needs what their extracts read any more
        _reads_path(pipeline, load_id).unlink(missing_ok=True)
    _log_audit(name, rows)
    return rows


def ingest_source(name: str, settings: Settings, run_date: dt.date, run_id: str) -> list[AuditRow]:
    """Prepare, extract and load one source; returns its audit rows (also written to `audit.load_audit`)."""
    prepare_source(name, settings)
    extract_source(name, settings, run_date)
    return load_source(name, settings, run_date, run_id)


def _drift(
    name: str, pipeline: dlt.Pipeline, counts: ReadCounts, before: dict[str, list[str]], main_table: str
) -> dict[str, list[str]]:
    """Schema drift per table, logged: the fields of the input the source's schema lacks, and the columns
    the loads added to a table that existed `before` them (table -> columns)."""
    new_columns = {
        table: sorted(columns - set(before[table]))
        for table, columns in _columns(pipeline).items()
        if table in before and columns - set(before[table])
    }
    drift = {
        table: [f"{column} (new column)" for column in columns] for table, columns in new_columns.items()
    }
    if counts.new_fields:
        fields = [f"{field} ({rows})" for field, rows in sorted(counts.new_fields.items())]
        log.warning(
            "%s: field(s) the schema does not define, kept in extra_fields: %s", name, ", ".join(fields)
        )
        drift[main_table] = fields + drift.get(main_table, [])
    for table, columns in new_columns.items():
        log.warning("raw_%s.%s: new column(s) %s", name, table, ", ".join(columns))
    return drift


def _log_audit(name: str, rows: list[AuditRow]) -> None:
    for row in rows:
        if row.rows_suppressed:
            log.info(
                "%s.%s: %d row(s) of forgotten people suppressed", name, row.table_name, row.rows_suppressed
            )
        if not row.is_balanced:
            log.error(
                "%s.%s: read %d != loaded %d + quarantined %d + suppressed %d",
                name,
                row.table_name,
                row.rows_read,
                row.rows_loaded,
                row.rows_quarantined,
                row.rows_suppressed,
            )


def _unaudited_loads(con, name: str, dataset: str) -> list[str]:
    """Loads dlt completed in `dataset` that no audit row lists, oldest first: this run's, a killed run's
    package loaded by this run, or a run killed after its load and before its audit. This run audits them
    and exports them to the lake, so that every row is counted once and reaches the lake."""
    if not con.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = '_dlt_loads'", [dataset]
    ).fetchone()[0]:
        return []
    con.execute(AUDIT_DDL)
    audited = {
        load_id
        for (load_ids,) in con.execute(
            "select load_ids from audit.load_audit where source = ?", [name]
        ).fetchall()
        for load_id in (load_ids or "").split(",")
    }
    loads = con.execute(
        f'select load_id from "{dataset}"._dlt_loads where status = 0 order by load_id'
    ).fetchall()
    return [load_id for (load_id,) in loads if load_id not in audited]


def write_audit(con, rows: list[AuditRow]) -> None:
    con.execute(AUDIT_DDL)
    for row in rows:
        con.execute(
            "delete from audit.load_audit where run_id = ? and source = ? and table_name = ?",
            [row.run_id, row.source, row.table_name],
        )
        con.execute(
            f"insert into audit.load_audit ({', '.join(AUDIT_COLUMNS)}) "
            f"values ({', '.join('?' for _ in AUDIT_COLUMNS)})",
            [getattr(row, column) for column in AUDIT_COLUMNS],
        )
