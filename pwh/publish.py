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

Two files are published. The full warehouse holds everything, direct identifiers included (raw CRM
rows, emails, phones), and is readable by its owner and group only (0640). The analyst warehouse
(`settings.analyst_warehouse_path`, world-readable 0644, what `pwh query` reads by default) holds only
the marts, those with direct identifiers replaced by dbt's masking views of schema `analyst`
(dbt_project/models/analyst/), plus `audit.publications`. DuckDB has no users or grants: whoever can
open a file reads all of it, so on the embedded default the file and its permissions are the role.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pwh.faults import failpoint
from pwh.settings import Settings
from pwh.warehouse import SCHEMAS, connect, sql_literal

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """The build cannot be published safely; the published warehouse was left as it was."""


TEMPORARY_SUFFIX = ".publishing"
FULL_MODE = 0o640  # owner and group: the people allowed to see direct identifiers
ANALYST_MODE = 0o644  # everyone who can reach the folder
# dbt's schema of masking views (dbt_project/models/analyst/): each replaces the mart of its name.
ANALYST_VIEWS_SCHEMA = "analyst"
# Column names that hold direct identifiers in pwh's marts. A mart with one of them reaches the analyst
# warehouse only through a masking view; without one, publishing stops instead of leaking it.
DIRECT_IDENTIFIER_COLUMNS = frozenset(
    "email phone street_address postcode first_name last_name birth_date identifier_value".split()
)
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
    analyst_path: Path | None = None  # the published analyst warehouse


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
    nothing has been built; on any failure the published warehouse is left as it was. The analyst
    warehouse is built privately first and renamed right after the full one.
    """
    build = build_settings(settings)
    source, target = build.warehouse_path, build.published_path
    assert target is not None  # build_settings always sets it
    if source.resolve() == target.resolve():
        raise PublishError(
            f"the published warehouse ({target}) is the build file itself: set PWH_WAREHOUSE_PATH outside "
            f"PWH_BUILD_DIR ({build.build_dir})"
        )
    if not source.exists():
        raise FileNotFoundError(f"nothing built at {source}: run `pwh run` (or the single steps) first")
    analyst_source, analyst_target = analyst_build_path(build), build.analyst_warehouse_path
    for path in (target, analyst_target):
        _check_target(path)
    published_at = dt.datetime.now(dt.UTC)  # when it happened, a record only: nothing is keyed on it
    table_count, view_count = _record(source, run_date, run_id, published_at, published_runs(target))
    try:
        _build_analyst(source, analyst_source)  # a refusal here comes before anything is published
        size_bytes, copy_seconds = _copy_and_replace(source, target, _mode(target, FULL_MODE, others=False))
        failpoint("publish.replaced")  # test hook (pwh/faults.py): full file renamed, analyst one not yet
        _copy_and_replace(analyst_source, analyst_target, _mode(analyst_target, ANALYST_MODE, others=True))
    except BaseException:
        _forget(source, run_id)  # the build must not claim a publication that did not happen
        raise
    log.info("published run %s: %s (%.1f MB in %.2f s)", run_id, target, size_bytes / 1e6, copy_seconds)
    return PublishSummary(
        run_id, run_date, published_at, target, table_count, view_count, size_bytes, copy_seconds,
        analyst_path=analyst_target,
    )  # fmt: skip


def analyst_build_path(settings: Settings) -> Path:
    """Where the analyst warehouse is built privately before it is published (next to the build file)."""
    build = build_settings(settings)
    path = build.build_dir / build.analyst_warehouse_path.name
    if path.name == build.warehouse_path.name:
        raise PublishError(
            f"the analyst warehouse ({build.analyst_warehouse_path}) needs another file name than the full "
            f"one ({build.published_path}): both are built in {build.build_dir}"
        )
    return path


def _check_target(target: Path) -> None:
    """Refuse a published file someone opened for writing; remove what a killed publish left next to it."""
    if wal_path(target).exists():
        raise PublishError(
            f"{wal_path(target)} exists: something opened the published warehouse for writing. Only the "
            "build file may be written; check nothing writes the published file, then remove the .wal file"
        )
    for leftover in target.parent.glob(f".{target.name}.*{TEMPORARY_SUFFIX}"):
        log.warning("removing %s, left by a publish that was killed", leftover)
        leftover.unlink(missing_ok=True)


def _build_analyst(source: Path, path: Path) -> None:
    """Write the analyst warehouse at `path` from the checkpointed build `source`, from scratch.

    Every relation of the build's `marts` becomes a table of the same name; a mart with a masking view
    in schema `analyst` is read through it. A mart with a direct identifier column and no such view
    stops the publish. `audit.publications` comes along, so the file says which run it is.
    """
    path.unlink(missing_ok=True)
    wal_path(path).unlink(missing_ok=True)
    # Attached under its own catalog name: dbt's views in the build refer to it (`pwh.marts.user_profiles`).
    catalog = source.stem
    with connect(path) as con:
        con.execute(f'attach {sql_literal(str(source))} as "{catalog}" (read_only)')
        columns = con.execute(  # literals: with parameters DuckDB would bind every view of the build first
            f"""
            select schema_name, table_name, list(column_name order by column_index)
            from duckdb_columns()
            where database_name = {sql_literal(catalog)} and schema_name in ('marts', {sql_literal(ANALYST_VIEWS_SCHEMA)})
            group by all
            """
        ).fetchall()
        masked = {table for schema, table, _ in columns if schema == ANALYST_VIEWS_SCHEMA}
        con.execute("create schema marts; create schema audit")
        for schema, table, names in sorted(columns):
            if schema == ANALYST_VIEWS_SCHEMA or table not in masked:
                unmasked = sorted(DIRECT_IDENTIFIER_COLUMNS.intersection(names))
                if schema == "marts" and unmasked:
                    raise PublishError(
                        f"marts.{table} has direct identifier column(s) {', '.join(unmasked)} and no masking "
                        f"view: add dbt_project/models/analyst/analyst_{table}.sql (see macros/masking.sql)"
                    )
                con.execute(f'create table marts."{table}" as select * from "{catalog}"."{schema}"."{table}"')
        con.execute(f'create table audit.publications as select * from "{catalog}".audit.publications')
        con.execute(f'detach "{catalog}"')
        con.execute("checkpoint")


def published_runs(target: Path) -> list[str] | None:
    """The runs the published warehouse's `audit.publications` lists; None when there is none to read."""
    if not target.exists():
        return None
    with connect(target, read_only=True) as con:
        if not con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'audit' and table_name = 'publications'"
        ).fetchone()[0]:
            return None
        return [run_id for (run_id,) in con.execute("select run_id from audit.publications").fetchall()]


def _record(
    path: Path, run_date: dt.date, run_id: str, published_at: dt.datetime, published_runs: list[str] | None
) -> tuple[int, int]:
    """Add the run to `audit.publications` in the build, checkpoint and close it: no WAL is left.

    A publish killed before its rename (SIGKILL, power cut) cannot take its row back (`_forget`): every
    run the published file does not list (`published_runs`) was never published, and its row goes.
    """
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
        if published_runs is not None:
            con.execute("delete from audit.publications where not list_contains(?, run_id)", [published_runs])
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


def _mode(target: Path, default: int, others: bool) -> int:
    """The published file's permissions: kept as they are (an admin's choice), else `default`; never
    readable by others (outside owner and group) unless `others`."""
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else default
    return mode if others else mode & ~0o007


def _copy_and_replace(source: Path, target: Path, mode: int) -> tuple[int, float]:
    """Copy `source` to a temporary file next to `target` with permissions `mode`, fsync it, and rename
    it onto `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # A read-only connection holds DuckDB's shared lock on the build file: no writer can change it mid-copy.
    with connect(source, read_only=True):
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMPORARY_SUFFIX)
        os.close(handle)
        temporary = Path(name)
        try:
            shutil.copyfile(source, temporary)
            os.chmod(temporary, mode)  # mkstemp's 0600 would lock the readers out
            with temporary.open("rb+") as copied:
                os.fsync(copied.fileno())
            failpoint("publish.copied")  # a test hook (pwh/faults.py): the copy is whole, not yet renamed
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
