"""Publishing: the pipeline builds a private file and renames a copy onto the one analysts read.

Unit tests run `pwh.publish` on a small DuckDB file; the slow ones run `pwh run` in a subprocess while
this process reads the published warehouse, and make a run fail to show the published file unchanged.
"""

import datetime as dt
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pwh.pipeline import StepFailed, run_step
from pwh.publish import PublishError, build_settings, publish, wal_path
from tests.sample import SAMPLE, SAMPLE_RUN_DATE

PWH = Path(sys.executable).parent / "pwh"
RUN_DATE = dt.date(2026, 1, 2)


def pwh(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PWH, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=900
    )


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_warehouse(settings, rows: int) -> Path:
    """Write (or rewrite) a small build warehouse holding `rows` rows in marts.numbers."""
    path = build_settings(settings).warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        con.execute("create or replace table marts.numbers as select range as n from range(?)", [rows])
    return path


def leftovers(settings) -> list[Path]:
    return sorted(settings.warehouse_path.parent.glob(".*.publishing"))


def read(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_first_publish_copies_the_build_and_records_the_run(settings):
    build = build_warehouse(settings, 3)
    assert not settings.warehouse_path.exists()

    summary = publish(settings, RUN_DATE, "run-1")

    published = settings.warehouse_path
    assert summary.path == published and summary.size_bytes == published.stat().st_size
    assert summary.table_count == 2 and summary.view_count == 0  # marts.numbers, audit.publications
    assert read(published, "select count(*) from marts.numbers") == [(3,)]
    assert read(published, "select run_id, run_date, table_count from audit.publications") == [
        ("run-1", RUN_DATE, 2)
    ]
    assert read(published, "select current_database()") == [(published.stem,)], "catalog named after the file"
    assert checksum(published) == checksum(build), "the published file is the checkpointed build"
    assert not wal_path(build).exists() and not wal_path(published).exists()
    assert leftovers(settings) == []
    assert published.stat().st_mode & 0o777 == 0o640, "owner and group only: it holds identifiers"


def test_republish_swaps_the_file_under_an_open_reader(settings):
    build_warehouse(settings, 3)
    publish(settings, RUN_DATE, "run-1")
    published = settings.warehouse_path
    reader = duckdb.connect(str(published), read_only=True)
    try:
        build_warehouse(settings, 5)
        publish(build_settings(settings), RUN_DATE, "run-2")  # the pipeline passes build settings
        publish(settings, RUN_DATE, "run-2")  # a retried publish replaces its own record
        assert reader.execute("select count(*) from marts.numbers").fetchone() == (3,), "keeps its old file"
        assert reader.execute("select list(run_id) from audit.publications").fetchone() == (["run-1"],)
    finally:
        reader.close()
    # In one process DuckDB reuses an open database for the same path: a new connection sees the new
    # file once the old ones are closed (another process sees it at once).
    assert read(published, "select count(*) from marts.numbers") == [(5,)]
    assert read(published, "select run_id from audit.publications order by published_at") == [
        ("run-1",),
        ("run-2",),
    ]
    assert leftovers(settings) == [] and not wal_path(published).exists()


def _copy_half_then_fail(source, destination):
    Path(destination).write_bytes(Path(source).read_bytes()[:4096])
    raise OSError(28, "No space left on device")


def _fail(*args, **kwargs):
    raise OSError(28, "No space left on device")


@pytest.mark.parametrize(
    "target, replacement",
    [("shutil.copyfile", _copy_half_then_fail), ("os.fsync", _fail), ("os.replace", _fail)],
)
def test_a_failed_publish_leaves_the_published_file_and_no_temporary_file(
    settings, monkeypatch, target, replacement
):
    build = build_warehouse(settings, 3)
    publish(settings, RUN_DATE, "run-1")
    before = checksum(settings.warehouse_path)
    build_warehouse(settings, 5)

    monkeypatch.setattr(f"pwh.publish.{target}", replacement)
    with pytest.raises(OSError, match="No space left"):
        publish(settings, RUN_DATE, "run-2")
    monkeypatch.undo()

    assert checksum(settings.warehouse_path) == before
    assert leftovers(settings) == []
    assert read(build, "select list(run_id) from audit.publications") == [(["run-1"],)], (
        "the build does not claim a publication that did not happen"
    )
    publish(settings, RUN_DATE, "run-3")
    assert read(settings.warehouse_path, "select count(*) from marts.numbers") == [(5,)]


def test_nothing_built_is_a_clear_error_and_publishes_nothing(settings):
    with pytest.raises(FileNotFoundError, match="nothing built"):
        publish(settings, RUN_DATE, "run-1")
    assert not settings.warehouse_path.exists()


def test_a_wal_next_to_the_published_file_stops_the_publish(settings):
    """After the rename DuckDB would replay a stale WAL onto the new file: someone wrote the published one."""
    build_warehouse(settings, 3)
    publish(settings, RUN_DATE, "run-1")
    before = checksum(settings.warehouse_path)
    wal_path(settings.warehouse_path).write_bytes(b"not ours")
    with pytest.raises(PublishError, match="for writing"):
        publish(settings, RUN_DATE, "run-2")
    assert checksum(settings.warehouse_path) == before


def test_a_killed_publish_leaves_a_temporary_file_the_next_one_removes(settings):
    build_warehouse(settings, 3)
    settings.warehouse_path.parent.mkdir(parents=True)
    killed = settings.warehouse_path.parent / f".{settings.warehouse_path.name}.abc123.publishing"
    killed.write_bytes(b"half a copy")
    publish(settings, RUN_DATE, "run-1")
    assert leftovers(settings) == []


def test_run_step_runs_steps_on_the_build_and_publish_is_the_last_step(settings):
    from pwh.pipeline import STEPS

    names = [step.name for step in STEPS]
    # only steps that write files from the published snapshot (or the build, unchanged since) come after it
    assert names[names.index("publish") + 1 :] == ["export", "docs", "report"]
    with pytest.raises(StepFailed, match="publish: nothing built"):
        run_step("publish", RUN_DATE, "run-1")
    build_warehouse(settings, 4)
    summary = run_step("publish", RUN_DATE, "run-1")
    assert summary.path == settings.warehouse_path
    assert read(settings.warehouse_path, "select count(*) from marts.numbers") == [(4,)]


def test_query_says_to_run_first_when_nothing_is_published(settings):
    build_warehouse(settings, 1)  # built, not published: analysts still have nothing to read
    done = pwh("query", "select 1")
    assert done.returncode == 1 and "nothing is published" in done.stderr and "pwh run" in done.stderr


# --- the real pipeline -----------------------------------------------------------------------------


def run_ok(*args: str, **env: str) -> subprocess.CompletedProcess:
    done = pwh("run", *args, **env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


READER_SQL = """
select
    (select count(*) from raw_events.events),
    (select count(*) from marts.daily_activity),
    (select list(run_id order by published_at) from audit.publications)
"""


@pytest.mark.slow
def test_a_reader_keeps_reading_the_published_warehouse_while_a_run_publishes(sample_settings, tmp_path):
    published = sample_settings.warehouse_path
    run_ok("--date", SAMPLE["start_date"].isoformat())  # day 1 only
    old_inode = published.stat().st_ino

    reader = duckdb.connect(str(published), read_only=True)
    # output to files, not pipes: nobody reads a pipe while the loop below queries, and a full one blocks the run
    out, err = (tmp_path / "run.out").open("w+"), (tmp_path / "run.err").open("w+")
    run = subprocess.Popen(
        [PWH, "run", "--date", SAMPLE_RUN_DATE.isoformat()],  # days 2 and 3 too
        stdout=out, stderr=err, text=True, env=os.environ,
    )  # fmt: skip
    try:
        old = reader.execute(READER_SQL).fetchone()
        queries = 0
        while run.poll() is None:
            assert reader.execute(READER_SQL).fetchone() == old
            queries += 1
            time.sleep(0.02)
        run.wait(timeout=60)
        stdout, stderr = (tmp_path / "run.out").read_text(), (tmp_path / "run.err").read_text()
        assert run.returncode == 0, stdout[-3000:] + stderr[-3000:]
        assert published.stat().st_ino != old_inode, "the run replaced the published file"
        assert reader.execute(READER_SQL).fetchone() == old, "the old reader still reads the old file"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        reader.close()
        out.close()
        err.close()
    assert queries > 50, queries

    new_events, _, runs = read(published, READER_SQL)[0]
    (new_run_id,) = (line.split()[2] for line in stdout.splitlines() if line.startswith("published run "))
    assert runs == [*old[2], new_run_id]
    assert new_events > old[0], "the new run loaded the later days"


@pytest.mark.slow
def test_a_run_that_fails_leaves_the_published_warehouse_as_it_was(sample_settings):
    published = sample_settings.warehouse_path
    build = build_settings(sample_settings).warehouse_path
    run_ok("--date", SAMPLE["start_date"].isoformat())
    before = checksum(published)
    (first_run,) = read(published, "select run_id from audit.publications")[0]

    # A bad setting makes dbt fail at `transform`, after `ingest` loaded days 2 and 3 into the build.
    failed = pwh("run", "--date", SAMPLE_RUN_DATE.isoformat(), PWH_REPORTING_CURRENCY="EURO")
    assert failed.returncode == 1 and "dbt build failed" in failed.stderr, failed.stderr[-3000:]
    assert "✓ publish" not in failed.stderr
    assert checksum(published) == before, "byte for byte the last good warehouse"
    assert leftovers(sample_settings) == []
    built_events = read(build, "select count(*) from raw_events.events")[0][0]
    assert built_events > read(published, "select count(*) from raw_events.events")[0][0]

    done = run_ok("--date", SAMPLE_RUN_DATE.isoformat())
    assert checksum(published) != before
    runs = [row[0] for row in read(published, "select run_id from audit.publications order by published_at")]
    assert runs[0] == first_run and len(runs) == 2 and f"published run {runs[1]} " in done.stdout
    assert read(published, "select count(*) from raw_events.events")[0][0] == built_events, (
        "what the failed run loaded into the build is published by the next good run, loaded once"
    )
