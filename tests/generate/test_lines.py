"""The line writer: bad lines land where the report says, whatever the batching; gzip is standard."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pwh.generate.lines import Corruption, GzipWriter, write_lines

LINES = [f"line {i:04d}" for i in range(1000)]
CORRUPTIONS = (
    Corruption("cut", 1.0, lambda rng, line: line[:3]),
    Corruption("copy", 1.0, lambda rng, line: line, inserted=True),
)


def _write(path: Path, batch: int) -> tuple[bytes, dict[int, str]]:
    array = pa.array([line + "\n" for line in LINES])
    batches = (array.slice(i, batch) for i in range(0, len(LINES), batch))
    bad = write_lines(path, batches, len(LINES), np.random.default_rng(3), 0.05, CORRUPTIONS)
    return path.read_bytes(), {b.line_number: b.kind for b in bad}


def test_bad_lines_are_where_reported_for_any_batching(tmp_path: Path) -> None:
    results = [_write(tmp_path / f"{batch}.gz", batch) for batch in (1000, 7, 1)]
    assert results[0] == results[1] == results[2]
    raw, bad = results[0]
    text = gzip.decompress(raw).decode().split("\n")[:-1]
    assert len(bad) == 50 and set(bad.values()) == {"cut", "copy"}
    copies = sum(kind == "copy" for kind in bad.values())
    assert len(text) == len(LINES) + copies
    for number, kind in bad.items():
        line = text[number - 1]
        if kind == "cut":
            assert line == "lin"
        else:  # an exact copy of an earlier line
            assert line in LINES and text.index(line) < number - 1
    good = [line for number, line in enumerate(text, 1) if number not in bad]
    assert good == sorted(good) and len(good) == len(LINES) - (len(bad) - copies)


def test_gzip_is_one_standard_member_and_reproducible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GzipWriter, "BLOCK", 1000)  # many blocks
    data = np.random.default_rng(1).integers(97, 123, size=25_000, dtype=np.uint8).tobytes()
    for name, pieces in (("a", [data]), ("b", [data[:1], data[1:2999], data[2999:]])):
        with GzipWriter(tmp_path / name) as out:
            for piece in pieces:
                out.write(piece)
    raw = (tmp_path / "a").read_bytes()
    assert raw == (tmp_path / "b").read_bytes()
    inflater = zlib.decompressobj(wbits=31)  # a single member, as a one-pass reader sees it
    assert inflater.decompress(raw) == data and inflater.eof and not inflater.unused_data
    assert raw[4:8] == b"\x00\x00\x00\x00"  # no timestamp
