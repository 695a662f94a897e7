"""A backfill over a date range builds, night by night, the same warehouse one run over all the data does."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.checksums import table_checksums
from tests.sample import SAMPLE, SAMPLE_RUN_DATE

PWH = Path(sys.executable).parent / "pwh"

# Marts whose rows depend on the path taken, by design: the runs that recorded them, the days segments
# were sized on, the stints in segments (entered on the first night a rule held) and the hysteresis of
# membership, and merges between people that only a later night's evidence joined.
PATH_DEPENDENT = {
    "load_audit", "model_runs", "segment_sizes", "segment_history", "segment_memberships", "person_merges",
}  # fmt: skip
RUN_COLUMNS = frozenset({"run_id", "model_version", "trained_at", "loaded_at", "published_at"})


@pytest.mark.slow
def test_backfill_of_every_day_gives_the_tables_of_one_run_over_all_days(sample_settings, sample_run):
    first_day = SAMPLE["start_date"]
    done = subprocess.run(
        [PWH, "backfill", "--from", first_day.isoformat(), "--to", SAMPLE_RUN_DATE.isoformat()],
        capture_output=True, text=True, env=os.environ, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"backfill {SAMPLE['days']}/{SAMPLE['days']}" in done.stderr

    backfilled = table_checksums(sample_settings.warehouse_path, "marts", RUN_COLUMNS)
    one_run = table_checksums(sample_run[0] / "warehouse" / "pwh.duckdb", "marts", RUN_COLUMNS)
    assert backfilled.keys() == one_run.keys()
    differ = {table for table in one_run if backfilled[table] != one_run[table]}
    assert differ <= PATH_DEPENDENT, {table: (backfilled[table], one_run[table]) for table in differ}
    # the nights really happened one by one: each day loaded and sized its segments
    assert backfilled["segment_sizes"][0] == SAMPLE["days"] * one_run["segment_sizes"][0]
    assert backfilled["load_audit"][0] == SAMPLE["days"] * one_run["load_audit"][0]


def test_backfill_refuses_an_empty_range(sample_settings):
    done = subprocess.run(
        [PWH, "backfill", "--from", "2026-01-03", "--to", "2026-01-01"],
        capture_output=True, text=True, env=os.environ, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "before --from" in done.stderr
