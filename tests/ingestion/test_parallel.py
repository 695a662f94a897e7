"""The ingest step reads the sources side by side and writes the warehouse one source at a time.

Real extracts and loads of the generated sample (dlt, DuckDB, files): the extracts overlap in time, the
loads follow them one by one in SOURCES order, and the audit adds up, also when a source fails (nothing
is loaded; the next run loads what was extracted) and when a run dies between extract and load.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingestion import runner
from ingestion.runner import READS_FOLDER, SOURCES, extract_source, prepare_source
from pwh.pipeline import StepFailed, check_load_audit, ingest
from pwh.settings import Settings
from pwh.warehouse import connect
from tests.conftest import settings_for
from tests.sample import SAMPLE_RUN_DATE


class Phases:
    """Wraps runner's extract and load phases to record when each one ran, per source."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.spans: dict[tuple[str, str], tuple[float, float]] = {}
        self.lock = threading.Lock()
        for phase in ("extract_source", "load_source"):
            monkeypatch.setattr(runner, phase, self.timed(phase, getattr(runner, phase)))

    def timed(self, phase: str, work):
        def run(name: str, *args):
            started = time.monotonic()
            try:
                return work(name, *args)
            finally:
                with self.lock:
                    self.spans[phase.removesuffix("_source"), name] = (started, time.monotonic())

        return run


def audit_totals(settings: Settings) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(rows read, loaded, quarantined) per source table, over every run."""
    with connect(settings.warehouse_path, read_only=True) as con:
        rows = con.execute(
            "select source, table_name, sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
            "from audit.load_audit group by all"
        ).fetchall()
    return {(source, table): tuple(counts) for source, table, *counts in rows}


def saved_reads(settings: Settings) -> list[Path]:
    return sorted(settings.dlt_dir.glob(f"*/{READS_FOLDER}/*"))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory, sample_landing: Path):
    """One ingest of the sample, its phases timed: (settings, phases, audit rows)."""
    root = tmp_path_factory.mktemp("uninterrupted")
    (root / "data").mkdir()
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = settings_for(root / "data", monkeypatch, sample_landing)
        phases = Phases(monkeypatch)
        rows = ingest(settings, SAMPLE_RUN_DATE, "run-1")
        yield settings, phases, rows


def test_the_extracts_overlap_and_the_loads_follow_one_at_a_time(uninterrupted):
    settings, phases, rows = uninterrupted
    extracts = [phases.spans["extract", name] for name in SOURCES]
    loads = [phases.spans["load", name] for name in SOURCES]
    overlapping = [
        (a, b) for a in SOURCES for b in SOURCES
        if a < b and phases.spans["extract", a][0] < phases.spans["extract", b][1]
        and phases.spans["extract", b][0] < phases.spans["extract", a][1]
    ]  # fmt: skip
    assert overlapping, phases.spans
    assert max(end for _, end in extracts) <= loads[0][0]  # no load beside an extract
    for (_, end), (start, _) in zip(loads, loads[1:], strict=False):
        assert end <= start  # one load at a time, in SOURCES order
    assert {row.source for row in rows} == set(SOURCES)
    assert all(row.is_balanced and row.rows_loaded > 0 for row in rows if row.table_name != "order_items")
    assert check_load_audit(settings, SAMPLE_RUN_DATE, "run-1") == len(rows)
    assert saved_reads(settings) == []  # audited: what the extracts saved for their loads is gone


def test_a_failing_source_is_named_and_nothing_loads_until_it_is_fixed(sample_settings, uninterrupted):
    settings = sample_settings
    catalog = settings.landing_dir / "catalog" / "products.csv"
    good = catalog.read_bytes()
    catalog.write_text("id,title\n1,lamp\n")
    with pytest.raises(StepFailed, match=r"^ingest catalog: catalog/products.csv line 1: header"):
        ingest(settings, SAMPLE_RUN_DATE, "run-1")
    with connect(settings.warehouse_path, read_only=True) as con:
        raw = con.execute("select count(*) from duckdb_tables() where schema_name like 'raw_%'").fetchone()[0]
    assert raw == 0, "a failed ingest loads nothing"
    assert len(saved_reads(settings)) == len(SOURCES) - 1  # the packages the others extracted wait

    catalog.write_bytes(good)
    rows = ingest(settings, SAMPLE_RUN_DATE, "run-2")
    assert all(row.is_balanced for row in rows)
    assert audit_totals(settings) == audit_totals(uninterrupted[0])
    assert saved_reads(settings) == []


def test_a_package_a_killed_run_extracted_is_loaded_and_audited_by_the_next_run(
    sample_settings, uninterrupted
):
    settings = sample_settings
    for name in SOURCES:
        prepare_source(name, settings)
    # the extracts never write the warehouse: a reader of another process holds it meanwhile, which
    # DuckDB allows beside other readers only
    reader = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True); print(); "
         "sys.stdin.read()", str(settings.warehouse_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert reader.stdout.readline() == "\n"
        for name in SOURCES:  # the run dies here: extracted, nothing loaded
            extract_source(name, settings, SAMPLE_RUN_DATE)
    finally:
        reader.communicate("", timeout=30)
    # and one source's package lost what its extract saved (killed in between): its tables tell instead
    (logs_reads,) = settings.dlt_dir.glob(f"pwh_logs/{READS_FOLDER}/*.json")
    logs_reads.unlink()

    rows = ingest(settings, SAMPLE_RUN_DATE, "run-2")
    assert all(row.is_balanced for row in rows)
    assert audit_totals(settings) == audit_totals(uninterrupted[0])
    events = next(row for row in rows if row.source == "events")
    lake = Path(settings.lake_url) / "raw_events" / "events"
    assert [path.stem for path in lake.rglob("*.parquet")] == events.load_ids.split(",")[:1]
    assert saved_reads(settings) == []
    again = ingest(settings, SAMPLE_RUN_DATE, "run-3")
    assert sum(row.rows_read + row.rows_loaded for row in again) == 0
