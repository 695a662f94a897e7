"""The nightly pipeline's steps: one function per step, shared by `pwh run` and the Airflow DAG.

Every step takes the settings, the run's logical date and the run id, and is safe to repeat: loaders
only pick up what is new, dbt rebuilds its models, checks only read.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pwh.settings import Settings, load_settings, quiet_telemetry

log = logging.getLogger(__name__)


class StepFailed(RuntimeError):
    """A pipeline step failed; the message says which step and why."""


def new_run_id(run_date: dt.date) -> str:
    return f"{run_date.isoformat()}-{uuid.uuid4().hex[:8]}"


def ingest(settings: Settings, run_date: dt.date, run_id: str, sources: tuple[str, ...] | None = None):
    """Load every source (or the named ones) into the raw lake and raw schemas; returns audit rows.

    The sources' extracts (reading landing files and the CRM into dlt load packages) run side by side in
    threads; what writes the warehouse runs one source at a time, in SOURCES order (DuckDB has one
    writer). When an extract fails, the step fails naming the source once the others have finished, and
    loads nothing: the packages extracted wait, and the next run loads them first. The Airflow DAG runs
    the same three phases as tasks: `ingest_prepare`, one `ingest_extract` per source, `ingest_load`.
    """
    from ingestion import SOURCES

    names = sources or SOURCES
    ingest_prepare(settings, run_date, run_id, names)
    log.info("ingest: extracting %s in parallel", ", ".join(names))
    with ThreadPoolExecutor(len(names), thread_name_prefix="ingest") as pool:
        extracts = [pool.submit(ingest_extract, settings, run_date, run_id, name) for name in names]
    failed = [exc for future in extracts if (exc := future.exception())]
    if failed:  # each names its source (`_naming`)
        raise StepFailed("; ".join(map(str, failed))) from failed[0]
    return ingest_load(settings, run_date, run_id, names)


def ingest_prepare(
    settings: Settings, run_date: dt.date, run_id: str, sources: tuple[str, ...] | None = None
):
    """Before the extracts, one source at a time (writes the warehouse): restore each source's dlt state
    and load what a killed run left extracted."""
    quiet_telemetry()
    from ingestion import SOURCES
    from ingestion.runner import prepare_source

    for name in sources or SOURCES:
        with _naming(name):
            prepare_source(name, settings)


def ingest_extract(settings: Settings, run_date: dt.date, run_id: str, source: str):
    """Read one source's new data into a dlt load package; never writes the warehouse, so the sources'
    extracts may run at once (threads in `pwh run`, tasks in Airflow)."""
    quiet_telemetry()
    from ingestion.runner import extract_source

    started = time.perf_counter()
    with _naming(source):
        counts = extract_source(source, settings, run_date)
    read = sum(counts.rows_read.values())
    log.info("ingest: %s extracted, %d row(s) read in %.1f s", source, read, time.perf_counter() - started)
    return counts


def ingest_load(settings: Settings, run_date: dt.date, run_id: str, sources: tuple[str, ...] | None = None):
    """After the extracts, one source at a time in SOURCES order: load, export to the lake, audit."""
    quiet_telemetry()
    from ingestion import SOURCES
    from ingestion.runner import load_source

    rows = []
    for name in sources or SOURCES:
        started = time.perf_counter()
        with _naming(name):
            loaded = load_source(name, settings, run_date, run_id)
        log.info(
            "ingest: %s loaded, %d row(s) in %.1f s",
            name,
            sum(row.rows_loaded for row in loaded),
            time.perf_counter() - started,
        )
        rows += loaded
    return rows


@contextmanager
def _naming(source: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # re-raised with the source named; the cause stays chained
        raise StepFailed(f"ingest {source}: {exc}") from exc


def check_load_audit(settings: Settings, run_date: dt.date, run_id: str) -> int:
    """Fail when any source of this run read rows it neither loaded, quarantined nor suppressed (or vice
    versa). Suppressed: rows of people `pwh forget` erased (an audit table older than it has none)."""
    from pwh.warehouse import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        has_suppressed = con.execute(
            "select count(*) from duckdb_columns() where database_name = current_database() "
            "and schema_name = 'audit' and table_name = 'load_audit' and column_name = 'rows_suppressed'"
        ).fetchone()[0]
        suppressed = "coalesce(rows_suppressed, 0)" if has_suppressed else "0"
        unbalanced = con.execute(
            f"""
            select source, table_name, rows_read, rows_loaded, rows_quarantined, {suppressed}
            from audit.load_audit
            where run_id = ? and rows_read <> rows_loaded + rows_quarantined + {suppressed}
            """,
            [run_id],
        ).fetchall()
        checked = con.execute("select count(*) from audit.load_audit where run_id = ?", [run_id]).fetchone()[
            0
        ]
    if unbalanced:
        details = "; ".join(
            f"{s}.{t}: read {r}, loaded {lo}, quarantined {q}, suppressed {sup}"
            for s, t, r, lo, q, sup in unbalanced
        )
        raise StepFailed(f"load audit does not add up for run {run_id}: {details}")
    if checked == 0:
        raise StepFailed(f"no load audit rows for run {run_id}: run `pwh ingest` for this run first")
    return checked


# the environment variable dbt_project/profiles.yml reads the warehouse file from
DBT_WAREHOUSE_VARIABLE = "DBT_PWH_DUCKDB_PATH"


def dbt_executable() -> str:
    """The dbt of this environment (the project's virtualenv), else the one on PATH."""
    executable = shutil.which("dbt", path=str(Path(sys.executable).parent)) or shutil.which("dbt")
    if executable is None:
        raise StepFailed("dbt is not installed in this environment: run `make install`")
    return executable


def dbt_vars(run_date: str, reporting_currency: str, **extra: object) -> dict:
    """The vars of every dbt build of pwh (`pwh run`, the Airflow dbt tasks, dbt on Spark): the run's
    logical date, YYYY-MM-DD (or Airflow's template `{{ ds }}`), and the reporting currency; `extra` on top."""
    return {"run_date": run_date, "reporting_currency": reporting_currency, **extra}


def dbt(settings: Settings, run_date: dt.date, *args: str, variables: dict | None = None) -> str:
    """Run a dbt command on the project against the warehouse; returns its output, raises on failure.

    `variables` are dbt vars on top of the run date and reporting currency (e.g. a test's lower caps).
    """
    quiet_telemetry()
    executable = dbt_executable()
    work_dir = settings.data_dir / "dbt"
    command = [
        executable, *args,
        "--project-dir", str(settings.dbt_project_dir),
        "--profiles-dir", str(settings.dbt_project_dir),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        "--vars", json.dumps(dbt_vars(run_date.isoformat(), settings.reporting_currency, **(variables or {}))),
    ]  # fmt: skip
    env = {**os.environ, DBT_WAREHOUSE_VARIABLE: str(settings.warehouse_path)}
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("running %s", " ".join(command[:2]))
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=settings.dbt_project_dir)
    for line in done.stdout.splitlines():
        log.debug("dbt: %s", line)
    if done.returncode != 0:
        failures = [line for line in done.stdout.splitlines() if "ERROR" in line or "FAIL" in line]
        tail = "\n".join(failures[-15:] or done.stdout.splitlines()[-15:] or done.stderr.splitlines()[-15:])
        raise StepFailed(f"dbt {args[0]} failed (full log in {work_dir / 'logs'}):\n{tail}")
    return done.stdout


def check_raw(settings: Settings, run_date: dt.date, run_id: str):
    """Great Expectations on the raw tables this run loaded; a failure stops the run (expectations/)."""
    from expectations.run import check_raw as check

    return check(settings, run_date, run_id)


# dbt runs in two phases around the Python steps: everything that does not read their `ml` tables,
# then everything downstream of them (identities, profiles, page themes, segment features). The Airflow
# DAG renders the same selections as one task per dbt node (pwh.orchestration).
DBT_PHASES = {"transform": {"exclude": ["source:ml+"]}, "marts": {"select": ["source:ml+"]}}


def _dbt_phase(settings: Settings, run_date: dt.date, phase: str) -> str:
    selection = [arg for flag, nodes in DBT_PHASES[phase].items() for arg in (f"--{flag}", *nodes)]
    return dbt(settings, run_date, "build", *selection)


def transform(settings: Settings, run_date: dt.date, run_id: str) -> str:
    """Build and test seeds, staging, intermediate and the marts that need no ML step."""
    return _dbt_phase(settings, run_date, "transform")


def dedupe(settings: Settings, run_date: dt.date, run_id: str):
    """Cluster CRM customer records that are the same person (dedupe, committed settings)."""
    from models_ml.crm_clusters import cluster_customers

    return cluster_customers(settings, run_date, run_id)


def identity(settings: Settings, run_date: dt.date, run_id: str):
    """Stitch customer ids, user ids, emails and cookies into people with stable ids."""
    from models_ml.identities import stitch_identities

    return stitch_identities(settings, run_date, run_id)


def themes(settings: Settings, run_date: dt.date, run_id: str):
    """Score every page seen against the page themes (models_ml/themes/themes.yml)."""
    from models_ml.page_themes import classify_pages

    return classify_pages(settings, run_date, run_id)


def marts(settings: Settings, run_date: dt.date, run_id: str) -> str:
    """Build and test the models that read the ML steps' tables: identities, profiles, features."""
    return _dbt_phase(settings, run_date, "marts")


def segments(settings: Settings, run_date: dt.date, run_id: str):
    """Rebuild segment memberships and history from the catalogue; fail on empty or swinging segments."""
    from pwh.segments.build import build_segments  # imports StepFailed from here: import at call time

    return build_segments(settings, run_date, run_id)


def train(settings: Settings, run_date: dt.date, run_id: str):
    """Train and evaluate the recommender; publish its tables only if it beats the popularity baseline."""
    from models_ml.recommendations import train as train_recommender

    return train_recommender(settings, run_date, run_id)


def check_marts(settings: Settings, run_date: dt.date, run_id: str):
    """Great Expectations on the marts before they are published; a failure stops the run."""
    from expectations.run import check_marts as check

    return check(settings, run_date, run_id)


def publish(settings: Settings, run_date: dt.date, run_id: str):
    """Publish the build warehouse onto the one analysts read, atomically (see pwh.publish)."""
    from pwh.publish import PublishError
    from pwh.publish import publish as publish_build

    try:
        return publish_build(settings, run_date, run_id)
    except (PublishError, OSError) as exc:  # re-raised with the step named; the cause stays chained
        raise StepFailed(f"publish: {exc}") from exc


def export(settings: Settings, run_date: dt.date, run_id: str):
    """Write every segment's CSV and a manifest into the run date's export folder."""
    from pwh.segments.export import ExportError, export_all

    try:
        return export_all(settings, run_date, run_id)
    except ExportError as exc:
        raise StepFailed(f"export: {exc}") from exc


def docs(settings: Settings, run_date: dt.date, run_id: str) -> Path:
    """Build dbt's documentation site (lineage, every model and column) as one HTML file."""
    dbt(settings, run_date, "docs", "generate", "--static")
    return settings.data_dir / "dbt" / "target" / "static_index.html"


def report(settings: Settings, run_date: dt.date, run_id: str):
    """Write the run report (HTML with charts, one file) from the published warehouse."""
    from pwh.report import write_report

    return write_report(settings, run_date, run_id)


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[Settings, dt.date, str], object]
    description: str


# The nightly pipeline, in order. The DAG has one task per step; `pwh run` runs them one after another.
STEPS = (
    Step("ingest", ingest, "load new landing data into the raw lake and raw schemas"),
    Step("check_load_audit", check_load_audit, "every row read was loaded or quarantined"),
    Step("check_raw", check_raw, "Great Expectations on the raw tables: stop before transforming bad data"),
    Step("transform", transform, "dbt build: staging, intermediate and the marts that need no ML step"),
    Step("dedupe", dedupe, "cluster CRM records of the same person"),
    Step("identity", identity, "stitch identifiers into people (guarded against over-merging)"),
    Step("themes", themes, "classify pages into themes by semantic similarity"),
    Step("marts", marts, "dbt build: identities, profiles and segment features, with their tests"),
    Step("segments", segments, "segment memberships and history from the catalogue, with size checks"),
    Step("train", train, "recommender: train, evaluate against popularity, replace its tables if better"),
    Step("check_marts", check_marts, "Great Expectations on the marts: stop before publishing bad tables"),
    Step("publish", publish, "publish the build warehouse atomically: analysts see the new run"),
    Step("export", export, "segment CSVs and their manifest for marketers"),
    Step("docs", docs, "dbt's documentation site: lineage, every model and column described"),
    Step("report", report, "the run report: loads, quarantine, segments and model metrics over time"),
)


def run_step(name: str, run_date: dt.date, run_id: str) -> object:
    """Run one step by name on the build warehouse, settings from the environment (each Airflow task)."""
    steps = {step.name: step for step in STEPS}
    if name not in steps:
        raise ValueError(f"unknown step {name!r}; steps are {', '.join(steps)}")
    return steps[name].run(_task_settings(), run_date, run_id)


def run_ingest_phase(phase: str, run_date: dt.date, run_id: str, source: str | None = None) -> object:
    """One task of the DAG's ingest group: 'prepare', 'extract' (of `source`) or 'load'."""
    if phase == "extract":
        return ingest_extract(_task_settings(), run_date, run_id, source)
    phases = {"prepare": ingest_prepare, "load": ingest_load}
    if phase not in phases:
        raise ValueError(f"unknown ingest phase {phase!r}; phases are prepare, extract, load")
    return phases[phase](_task_settings(), run_date, run_id)


def _task_settings() -> Settings:
    """The settings of an Airflow task: from its environment, on the build warehouse."""
    from pwh.publish import build_settings

    return build_settings(load_settings())
