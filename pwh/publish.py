"""Build privately, publish atomically: the warehouse analysts read changes only when a run has finished.

DuckDB lets one process write a file or many read it, never both. So the pipeline never writes the
published warehouse (`settings.warehouse_path`): every step writes a private build file of the same name
in `settings.build_dir` (same name, because DuckDB names the catalog after the file and dbt's views
refer to it), and the last step publishes it: record the run in `audit.publications`, checkpoint and
close the build, copy it next to the published file, fsync, and `os.replace` it onto the published path.
The rename is atomic: a connection opened before it keeps reading the old file to its end, one opened
after it reads the new run, and no one ever sees half a file. A run that fails before publishing leaves
the published warehouse as it was.

The build file is the pipeline's working copy and stays between runs: dlt keeps its incremental state
both in it and under `settings.dlt_dir`, and the two must agree, so it is never reset from the published
copy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pwh.settings import Settings
from pwh.warehouse import SCHEMAS, connect

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The build cannot be published safely; the published warehouse was left as it was."""


TEMPORARY_SUFFIX = ".publishing"
PUBLICATIONS_DDL = """
create schema if not exists audit;
create table if not exists audit.publications (
    run_id varchar not null,
    run_date date not null,
    published_at timestamptz not null,
    table_count integer not null,
    view_count integer not null
);
"""


@dataclass(frozen=True)
class PublishSummary:
    run_id: str
    run_date: dt.date
    published_at: dt.datetime
    path: Path  # the published warehouse
    table_count: int
    view_count: int
    size_bytes: int
    copy_seconds: float


def build_settings(settings: Settings) -> Settings:
    """The pipeline's settings: `warehouse_path` is the private build file, `published_path` the published one.

    Idempotent: the build settings of build settings are the same settings.
    """
    if settings.published_path is not None:
        return settings
    return dataclasses.replace(
        settings,
        warehouse_path=settings.build_dir / settings.warehouse_path.name,
        published_path=settings.warehouse_path,
    )


def wal_path(path: Path) -> Path:
    """DuckDB's write-ahead log of the database file `path`."""
    return path.with_name(path.name + ".wal")


def publish(settings: Settings, run_date: dt.date, run_id: str) -> PublishSummary:
    """Publish the build warehouse onto the published path in one atomic rename; returns what was published.

    `settings` may be the published settings or their `build_settings`. Raises FileNotFoundError when
    nothing has been built; on any failure the published warehouse is left as it was.
    """
    build = build_settings(settings)
    source, target = build.warehouse_path, build.published_path
    assert target is not None  # build_settings always sets it
    if not source.exists():
        raise FileNotFoundError(f"nothing built at {source}: run `pwh run` (or the single steps) first")
    if wal_path(target).exists():
        raise PublishError(
            f"{wal_path(target)} exists: something opened the published warehouse for writing. Only the "
            "build file may be written; check nothing writes the published file, then remove the .wal file"
        )
    for leftover in target.parent.glob(f".{target.name}.*{TEMPORARY_SUFFIX}"):
        log.warning("removing %s, left by a publish that was killed", leftover)
        leftover.unlink(missing_ok=True)
    published_at = dt.datetime.now(dt.UTC)  # when it happened, a record only: nothing is keyed on it
    table_count, view_count = _record(source, run_date, run_id, published_at)
    try:
        size_bytes, copy_seconds = _copy_and_replace(source, target)
    except BaseException:
        _forget(source, run_id)  # the build must not claim a publication that did not happen
        raise
    log.info("published run %s: %s (%.1f MB in %.2f s)", run_id, target, size_bytes / 1e6, copy_seconds)
    return PublishSummary(
        run_id, run_date, published_at, target, table_count, view_count, size_bytes, copy_seconds
    )


def _record(path: Path, run_date: dt.date, run_id: str, published_at: dt.datetime) -> tuple[int, int]:
    """Add the run to `audit.publications` in the build, checkpoint and close it: no WAL is left."""
    with connect(path) as con:
        con.execute(PUBLICATIONS_DDL)
        table_count, view_count = con.execute(
            f"""
            select
                (select count(*) from duckdb_tables()
                 where database_name = current_database() and schema_name in {SCHEMAS}
                     and not starts_with(table_name, '_dlt')),
                (select count(*) from duckdb_views()
                 where database_name = current_database() and schema_name in {SCHEMAS} and not internal)
            """
        ).fetchone()
        con.execute("begin")
        con.execute("delete from audit.publications where run_id = ?", [run_id])  # a retried publish
        con.execute(
            "insert into audit.publications values (?, ?, ?, ?, ?)",
            [run_id, run_date, published_at, table_count, view_count],
        )
        con.execute("commit")
        con.execute("checkpoint")
    if wal_path(path).exists():
        raise PublishError(
            f"{wal_path(path)} is still there after a checkpoint: is another connection writing it?"
        )
    return table_count, view_count


def _copy_and_replace(source: Path, target: Path) -> tuple[int, float]:
    """Copy `source` to a temporary file next to `target`, fsync it, and rename it onto `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # A read-only connection holds DuckDB's shared lock on the build file: no writer can change it mid-copy.
    with connect(source, read_only=True):
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMPORARY_SUFFIX)
        os.close(handle)
        temporary = Path(name)
        try:
            shutil.copyfile(source, temporary)
            # keep the published file's permissions (mkstemp's 0600 would lock other readers out)
            shutil.copymode(target if target.exists() else source, temporary)
            with temporary.open("rb+") as copied:
                os.fsync(copied.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    _fsync_dir(target.parent)  # make the rename itself durable
    return target.stat().st_size, time.perf_counter() - started


def _fsync_dir(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _forget(path: Path, run_id: str) -> None:
    try:
        with connect(path) as con:
            con.execute("delete from audit.publications where run_id = ?", [run_id])
            con.execute("checkpoint")
    except duckdb.Error as exc:  # the publish failure being raised matters more; say this one too
        log.warning("could not remove run %s from audit.publications in %s: %s", run_id, path, exc)
