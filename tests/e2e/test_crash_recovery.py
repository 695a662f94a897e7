"""Crash recovery (issue 7): `pwh run` SIGKILLed at its risky points, then the same date run again.

A crash is simulated for real: `pwh run` starts in its own session and the whole process group gets
SIGKILL (dbt's child process dies with it), with no cleanup of any kind. The test decides when to kill
from what a run shows from outside (its progress lines, dlt's load packages, dbt's log), except inside
`publish`, which takes milliseconds: there it sets a named failpoint (pwh/faults.py), which makes the run
SIGKILL its own process group at that line.

After every kill the published warehouses are either absent (nothing was ever published) or byte for
byte what they were before the killed run, open read-only with no WAL beside them. After the kills the
same date runs to completion and must give exactly what one uninterrupted run gives (the session's
`sample_run`): every mart, every raw table, the load audit's totals, the lake and dlt's incremental
state. Then the date runs again and must change nothing. A second, fast test kills `publish` itself at
its failpoints on a small build and checks what the next publish makes of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pwh.publish import TEMPORARY_SUFFIX, build_settings, wal_path
from pwh.settings import Settings
from tests.checksums import table_checksums
from tests.conftest import settings_for
from tests.sample import SAMPLE_RUN_DATE

PWH = Path(sys.executable).parent / "pwh"
# Columns that legitimately differ between two runs of the same date: the id of the run that wrote a
# row (a crashed-and-rerun date has rows written by the killed runs), and the recommender's
# `model_version`, which is f"svd-{run_id}". Nothing else is left out.
RUN_COLUMNS = frozenset({"run_id", "entered_run_id", "exited_run_id", "model_version"})
# Run logs hold one row per run by design, and a crashed date has more runs than an uninterrupted one:
# they are compared as totals per source table (load_audit) and as distinct rows (model_runs) instead.
RUN_LOGS = frozenset({"load_audit", "model_runs"})
# dlt's own columns in raw tables: a random row id and the load id, both new for every load.
DLT_COLUMNS = frozenset({"_dlt_id", "_dlt_load_id"})
POLL_SECONDS = 0.005


class Run:
    """`pwh run --date` in its own session; stderr (the progress lines) goes to a file read while it runs."""

    started_runs: list[Run] = []  # killed at teardown if a failed assertion left one running

    def __init__(self, root: Path, name: str, failpoint: str | None = None) -> None:
        self.name = name
        self.log = root / f"{name}.stderr"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("PWH_FAILPOINT", None)
        if failpoint:
            env["PWH_FAILPOINT"] = failpoint
        self.started = time.monotonic()
        with self.log.open("w") as stderr:
            self.process = subprocess.Popen(
                [PWH, "run", "--date", SAMPLE_RUN_DATE.isoformat()],
                env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
            )  # fmt: skip
        Run.started_runs.append(self)

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def run_id(self) -> str:
        found = re.search(r"^run (\S+) for ", self.output, re.MULTILINE)
        assert found, self.output
        return found.group(1)

    def done(self, step: str) -> bool:
        """Whether the run printed that `step` finished."""
        return re.search(rf"^✓ {step}: ", self.output, re.MULTILINE) is not None

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"{self.name} ended before {what}:\n{self.output[-3000:]}"
            assert time.monotonic() < deadline, f"{self.name}: no {what} after {timeout} s"
            time.sleep(POLL_SECONDS)

    def kill(self) -> float:
        """SIGKILL the run's whole process group; returns how long the run had been running."""
        os.killpg(self.process.pid, signal.SIGKILL)
        return self.wait_killed()

    def wait_killed(self, timeout: float = 60) -> float:
        """Wait for the run to die of SIGKILL: just sent (`kill`), or a failpoint's, which may come after
        whole steps (pass a timeout as long as `finish`'s: a busy machine runs them slowly)."""
        assert self.process.wait(timeout=timeout) == -signal.SIGKILL, self.output[-3000:]
        deadline = time.monotonic() + 10
        while alive := session_processes(self.process.pid):  # children die with the group
            assert time.monotonic() < deadline, f"{self.name}: still running after the kill: {alive}"
            time.sleep(0.05)
        return time.monotonic() - self.started

    def finish(self) -> float:
        assert self.process.wait(timeout=900) == 0, self.output[-3000:]
        return time.monotonic() - self.started


def session_processes(session: int) -> list[str]:
    """Command lines of the live (not zombie) processes of a session, from /proc."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, session, ...
            if int(fields[3]) == session and fields[0] != "Z":
                alive.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return alive


def published_files(settings: Settings) -> list[Path]:
    return [settings.warehouse_path, settings.analyst_warehouse_path]


def published_state(settings: Settings) -> dict[str, object]:
    """What the published warehouses are: absent, or their bytes' digest and their publications."""
    state = {}
    for path in published_files(settings):
        assert not wal_path(path).exists(), f"{wal_path(path)}: something wrote the published file"
        if not path.exists():
            state[path.name] = None
            continue
        with duckdb.connect(str(path), read_only=True) as con:  # opens cleanly, read-only
            runs = con.execute("select run_id from audit.publications order by published_at").fetchall()
        state[path.name] = (hashlib.sha256(path.read_bytes()).hexdigest(), [run for (run,) in runs])
        assert not wal_path(path).exists(), "reading the published file must not leave a WAL"
    return state


def leftovers(settings: Settings) -> list[str]:
    return sorted(path.name for path in settings.warehouse_path.parent.glob(f".*{TEMPORARY_SUFFIX}"))


def warehouse_fingerprint(data_dir: Path, settings: Settings, build: bool = False) -> dict[str, object]:
    """Everything that must match between two runs of the same date, from the data dir of one: from its
    published warehouses, or from its build warehouse (`build`: what its next publish would publish)."""
    full = data_dir / settings.warehouse_path.relative_to(settings.data_dir)
    if build:
        full = data_dir / build_settings(settings).warehouse_path.relative_to(settings.data_dir)
    analyst = data_dir / settings.analyst_warehouse_path.relative_to(settings.data_dir)
    marts = table_checksums(full, "marts", RUN_COLUMNS)
    with duckdb.connect(str(full), read_only=True) as con:
        raw_schemas = [
            schema
            for (schema,) in con.execute(
                "select schema_name from duckdb_schemas() where starts_with(schema_name, 'raw_') order by 1"
            ).fetchall()
        ]
        audit_counts = [
            column
            for (column,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'marts' "
                "and table_name = 'load_audit' and starts_with(column_name, 'rows_') order by 1"
            ).fetchall()
        ]
        sums = ", ".join(f"sum({column}) as {column}" for column in audit_counts)
        load_totals = con.execute(
            f"select source, table_name, {sums}, bool_and(is_balanced) as balanced "
            "from marts.load_audit group by all order by all"
        ).fetchall()
        # `seconds` is the wall time of the training
        model_runs = con.execute(
            "select distinct * exclude (run_id, model_version, seconds) from marts.model_runs order by all"
        ).fetchall()
    raw = {}
    for schema in raw_schemas:
        for table, checksum in table_checksums(full, schema, DLT_COLUMNS).items():
            if not table.startswith("_dlt"):  # dlt's bookkeeping: one row per load or state version
                raw[f"{schema}.{table}"] = checksum
    analyst_marts = {} if build else table_checksums(analyst, "marts", RUN_COLUMNS)
    return {
        "marts": {table: value for table, value in marts.items() if table not in RUN_LOGS},
        "analyst marts": {table: value for table, value in analyst_marts.items() if table not in RUN_LOGS},
        "raw": raw,
        "load audit totals": load_totals,
        "model runs": model_runs,
        "lake rows": lake_rows(data_dir / Path(settings.lake_url).relative_to(settings.data_dir)),
        "dlt sources state": {name: state.get("sources") for name, state in dlt_states(data_dir).items()},
    }


def lake_rows(lake: Path) -> dict[str, int]:
    """Rows in the lake per dataset/table/load date (files are named by load id, which differ per run)."""
    rows: dict[str, int] = {}
    for path in lake.rglob("*.parquet"):
        key = str(path.parent.relative_to(lake))
        rows[key] = rows.get(key, 0) + pq.ParquetFile(path).metadata.num_rows
    return rows


def dlt_states(data_dir: Path) -> dict[str, dict]:
    """Each dlt pipeline's local state, without `_local` (where and when it last ran)."""
    states = {}
    for path in sorted((data_dir / "dlt").glob("*/state.json")):
        state = json.loads(path.read_text())
        state.pop("_local", None)
        states[path.parent.name] = state
    return states


def events_package(settings: Settings, stage: str) -> bool:
    """Whether the events pipeline holds a load package in `stage` (a glob under its folder)."""
    return any((build_settings(settings).dlt_dir / "pwh_events").glob(stage))


def dbt_log_since(path: Path, offset: int) -> str:
    return path.read_bytes()[offset:].decode(errors="replace") if path.exists() else ""


@pytest.fixture(autouse=True)
def no_run_left_behind():
    yield
    while Run.started_runs:
        run = Run.started_runs.pop()
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()


@pytest.fixture
def crash_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_landing: Path) -> Settings:
    """Settings over a copy of the sample landing zone, laid out as the session's `sample_run` is."""
    import shutil

    shutil.copytree(sample_landing, tmp_path / "landing")
    (tmp_path / "data").mkdir()
    return settings_for(tmp_path / "data", monkeypatch, tmp_path / "landing")


@pytest.mark.slow  # six `pwh run`s, five of them killed: about 4 minutes on 2 busy cores
def test_killed_runs_leave_the_published_warehouse_alone_and_a_rerun_gives_the_uninterrupted_tables(
    crash_settings: Settings, sample_run: tuple[Path, str]
):
    """One chain, to run the pipeline as few times as possible (each step says how it is killed):

    1. kill during ingestion (timed): as soon as dlt has loaded part of the events package into the
       build (a job of the package is in `completed_jobs`), or, if that moment is missed, as soon as
       the package is loaded, before the load audit is written;
    2. kill during ingestion (failpoint `ingest.events.loaded`): dlt has loaded the events (whatever the
       first kill left pending), the lake export and the audit are not written;
    3. kill during dbt (timed): dbt's child process runs `transform` and has just written an
       incremental model (`int_visitor_days_aggregated`);
    4. kill during training (timed): 0.1 s after `segments` finished, while `train` runs (under a
       second; the run must not have printed that train finished, or the kill came too late);
    5. run to completion: same tables as the uninterrupted run;
    6. the same date again, killed during publishing (failpoint `publish.copied`): the build has been
       recorded in `audit.publications`, checkpointed and copied whole next to the published file, not
       renamed. The published files of run 5 must stay as they were (kills 1-4 come before anything is
       published), and the build, which the next publish would publish, must hold what run 5 published:
       nothing new read or loaded, dlt's state unchanged. What the next publish does after such a kill
       (removes the copy, lists only the runs really published) is the failpoint test below, on a small
       build: one more full run here would cost as much as the rest of this test's runs 5 and 6.
    """
    settings = crash_settings
    root = settings.data_dir.parent
    build = build_settings(settings)
    timings: dict[str, float] = {}
    nothing_published = published_state(settings)
    assert set(nothing_published.values()) == {None}

    def after_kill(run: Run, expected: dict) -> None:
        assert published_state(settings) == expected, f"{run.name} changed the published warehouse"

    # 1. ingestion, timed on dlt's load package
    run = Run(root, "1-ingest-timed")
    run.wait_until(
        lambda: (
            events_package(settings, "load/normalized/*/completed_jobs/*")
            or events_package(settings, "load/loaded/*")
        ),
        "events load",
    )
    timings[run.name] = run.kill()
    assert not run.done("ingest"), run.output
    after_kill(run, nothing_published)
    assert leftovers(settings) == []

    # 2. ingestion, failpoint between dlt's load and the audit
    run = Run(root, "2-ingest-failpoint", failpoint="ingest.events.loaded")
    timings[run.name] = run.wait_killed(timeout=900)
    assert not run.done("ingest"), run.output
    after_kill(run, nothing_published)
    assert leftovers(settings) == []

    # 3. dbt, timed on dbt's log
    dbt_log = settings.data_dir / "dbt" / "logs" / "dbt.log"
    offset = dbt_log.stat().st_size if dbt_log.exists() else 0
    run = Run(root, "3-dbt-timed")
    run.wait_until(lambda: run.done("check_raw"), "check_raw")
    run.wait_until(
        lambda: (
            "OK created sql incremental model intermediate.int_visitor_days_aggregated"
            in dbt_log_since(dbt_log, offset)
        ),
        "dbt building int_visitor_days_aggregated",
    )
    assert any(" build " in command for command in session_processes(run.process.pid) if "dbt" in command)
    timings[run.name] = run.kill()
    assert not run.done("transform"), run.output
    after_kill(run, nothing_published)
    assert leftovers(settings) == []

    # 4. training, timed on the progress lines
    run = Run(root, "4-train-timed")
    run.wait_until(lambda: run.done("segments"), "segments")
    time.sleep(0.1)
    timings[run.name] = run.kill()
    assert not run.done("train"), f"the kill came after train had finished:\n{run.output}"
    after_kill(run, nothing_published)
    assert leftovers(settings) == []

    # 5. to completion: the same tables as one uninterrupted run of the same date
    run = Run(root, "5-complete")
    timings[run.name] = run.finish()
    completed = run.run_id
    reference_dir, _ = sample_run
    recovered = warehouse_fingerprint(settings.data_dir, settings)
    uninterrupted = warehouse_fingerprint(reference_dir, settings)
    for part, value in uninterrupted.items():
        assert recovered[part] == value, part
    published = published_state(settings)
    assert published[settings.warehouse_path.name][1] == [completed], "killed runs published nothing"
    states = dlt_states(settings.data_dir)

    # 6. the date again, killed publishing (failpoint): every step up to check_marts ran again and changed
    # nothing in the build; the copy is whole next to the published file, which is still run 5's
    run = Run(root, "6-again-publish-failpoint", failpoint="publish.copied")
    timings[run.name] = run.wait_killed(timeout=900)
    assert run.done("check_marts") and not run.done("publish"), run.output
    after_kill(run, published)
    [temporary] = leftovers(settings)
    assert (settings.warehouse_path.parent / temporary).stat().st_size == build.warehouse_path.stat().st_size
    again = warehouse_fingerprint(settings.data_dir, settings, build=True)
    for part, value in recovered.items():
        if part != "analyst marts":  # built by publish, which was killed before renaming it
            assert again[part] == value, part  # load audit totals too: nothing new was loaded
    with duckdb.connect(str(build.warehouse_path), read_only=True) as con:
        audit = {
            run_id: counts
            for run_id, *counts in con.execute(
                "select run_id, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
                "from audit.load_audit where run_id in (?, ?) group by run_id",
                [completed, run.run_id],
            ).fetchall()
        }
    assert audit[run.run_id] == [audit[completed][0], 0, 0, 0], "every table audited, nothing new read"
    assert dlt_states(settings.data_dir) == states, "dlt's state (cursors, loaded files) is unchanged"
    print("wall time per run:", {name: f"{seconds:.1f} s" for name, seconds in timings.items()})


def _publish_in_a_child(run_id: str, failpoint: str) -> subprocess.CompletedProcess:
    """`pwh.publish.publish` in a process of its own session, killed by the failpoint."""
    code = (
        "import datetime as dt; from pwh.publish import publish; from pwh.settings import load_settings; "
        f"publish(load_settings(), dt.date(2026, 1, 2), {run_id!r})"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, "PWH_FAILPOINT": failpoint},
        capture_output=True, text=True, timeout=120, start_new_session=True,
    )  # fmt: skip


def _numbers(path: Path) -> tuple[int, list[str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute("select count(*) from marts.numbers").fetchone()[0]
        runs = con.execute("select run_id from audit.publications order by published_at").fetchall()
    return rows, [run for (run,) in runs]


@pytest.mark.parametrize("point", ["publish.copied", "publish.replaced"])
def test_a_publish_killed_midway_leaves_whole_files_and_the_next_one_repairs_them(settings, point):
    """Failpoints inside `publish` on a small build (seconds, no pipeline): killed with the full copy made
    but not renamed (`publish.copied`), or with the full warehouse renamed and the analyst one not yet
    (`publish.replaced`). Each published file is whole and opens read-only, either the old run or the
    new one; the next publish removes the temporary copy, publishes both, and lists in
    `audit.publications` only the runs whose full warehouse really was published."""
    from pwh.publish import publish

    build = build_settings(settings).warehouse_path
    build.parent.mkdir(parents=True)

    def rebuild(rows: int) -> None:
        with duckdb.connect(str(build)) as con:
            con.execute("create schema if not exists marts")
            con.execute("create or replace table marts.numbers as select range as n from range(?)", [rows])

    rebuild(3)
    publish(settings, SAMPLE_RUN_DATE, "run-1")
    before = published_state(settings)
    rebuild(5)
    killed = _publish_in_a_child("run-2", point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    after = published_state(settings)  # no WAL, opens read-only
    full, analyst = settings.warehouse_path, settings.analyst_warehouse_path
    assert after[analyst.name] == before[analyst.name], "the analyst file is renamed after the full one"
    if point == "publish.copied":
        assert after[full.name] == before[full.name]
        assert len(leftovers(settings)) == 1, "the whole copy, next to the published file"
        assert _numbers(full) == (3, ["run-1"])
    else:  # the full file is the new run, the analyst one still the old: each is whole
        assert _numbers(full) == (5, ["run-1", "run-2"]) and _numbers(analyst) == (3, ["run-1"])
        assert leftovers(settings) == []

    publish(settings, SAMPLE_RUN_DATE, "run-3")
    published = ["run-1", "run-3"] if point == "publish.copied" else ["run-1", "run-2", "run-3"]
    assert _numbers(full) == _numbers(analyst) == (5, published)
    assert leftovers(settings) == [] and not wal_path(full).exists() and not wal_path(analyst).exists()
