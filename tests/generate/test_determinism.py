"""Same arguments, same bytes; another seed, other data; bad_share=0 means clean files; part splitting."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pwh.generate import generate, lines
from tests.generate.helpers import event_problem, log_problem, read_lines

SMALL = {"users": 60, "days": 2, "start_date": dt.date(2026, 3, 1)}


def _files(landing: Path) -> dict[str, bytes]:
    return {
        p.relative_to(landing).as_posix(): p.read_bytes()
        for p in sorted(landing.rglob("*"))
        if p.is_file() and p.name != "crm.sqlite"
    }


def _crm(landing: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(landing / "crm.sqlite") as conn:
        return {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("customers", "orders", "order_items")
        }


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=5, **SMALL)
    generate(tmp_path / "b", seed=5, **SMALL)
    generate(tmp_path / "c", seed=6, **SMALL)
    a, b, c = (_files(tmp_path / name) for name in "abc")
    assert a == b
    assert _crm(tmp_path / "a") == _crm(tmp_path / "b")
    first_events = "events/2026-03-01/events-0001.jsonl.gz"
    assert a.keys() == c.keys() and a[first_events] != c[first_events]
    assert _crm(tmp_path / "a") != _crm(tmp_path / "c")


def test_rerun_overwrites_and_clean_run_has_no_bad_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    generate(landing, seed=5, **SMALL)  # with bad rows; then rewritten below
    monkeypatch.setattr(lines, "PART_LINES", 200)  # force several parts per day
    summary = generate(landing, seed=5, bad_share=0.0, **SMALL)
    assert summary.bad_rows == {"events": 0, "logs": 0, "catalog": 0}
    assert pq.read_table(landing / "_truth" / "bad_rows.parquet").num_rows == 0
    parts = sorted(p.name for p in (landing / "events" / "2026-03-01").iterdir())
    assert len(parts) >= 2 and parts == [f"events-{k:04d}.jsonl.gz" for k in range(1, len(parts) + 1)]
    n_events = 0
    for path in (landing / "events").glob("*/*.jsonl.gz"):
        seen: set[str] = set()
        content = read_lines(path)
        assert len(content) <= 200 and all(event_problem(line, seen) is None for line in content)
        n_events += len(content)
    assert n_events == summary.events
    for path in (landing / "logs").glob("*/*.log.gz"):
        assert all(log_problem(line) is None for line in read_lines(path))
    assert summary.files_written == len([p for p in landing.rglob("*") if p.is_file()])


def test_rejects_nonsense_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, users=0)
    with pytest.raises(ValueError):
        generate(tmp_path, bad_share=0.9)
