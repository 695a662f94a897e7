"""Writing line files (gzip, reproducible) with a share of deliberately bad lines spliced in.

Good lines arrive as Arrow string arrays, rendered a batch at a time, whose values each end in a
newline: an array's data buffer already is that stretch of the file. Only the few bad lines are
handled as Python strings, so memory stays at one batch whatever the size of the file.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

PART_LINES = 1_000_000  # a day's lines are split into files of at most this many good lines
BATCH_LINES = 200_000  # lines rendered at a time


@dataclass(frozen=True)
class Corruption:
    """One kind of bad line. `make` turns a good source line (no newline) into the bad line."""

    kind: str
    weight: float
    make: Callable[[np.random.Generator, str], str]
    # inserted lines are added a little after their source line; the others replace it
    inserted: bool = False


@dataclass(frozen=True)
class BadLine:
    line_number: int  # 1-based, in the written file
    kind: str


def bad_count(n_lines: int, share: float) -> int:
    """How many bad lines a file of n_lines gets: at least one whenever share > 0."""
    if share <= 0 or n_lines < 2:
        return 0
    return min(n_lines // 2, max(1, round(n_lines * share)))


class GzipWriter:
    """Writes one gzip member (no timestamp or name in the header), compressing blocks in parallel.

    Like pigz: each BLOCK of input is deflated on its own and ended with a sync flush, so the pieces
    concatenate into a single valid deflate stream. Block boundaries depend only on the bytes written,
    so equal content gives equal files however the threads are scheduled.
    """

    BLOCK = 8 << 20
    LEVEL = 1

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("wb")
        # magic, deflate, no flags, mtime 0, no extra flags, OS unknown
        self._file.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff")
        self._workers = os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(max_workers=self._workers)
        self._pending: deque[Future[bytes]] = deque()
        self._pieces: list[memoryview] = []  # input not yet making up a whole block
        self._buffered = 0
        self._crc = 0
        self._size = 0

    @staticmethod
    def _deflate(block: bytes, last: bool) -> bytes:
        compressor = zlib.compressobj(GzipWriter.LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        return compressor.compress(block) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    def _submit(self, block: bytes, last: bool) -> None:
        self._crc = zlib.crc32(block, self._crc)
        self._size += len(block)
        self._pending.append(self._pool.submit(self._deflate, block, last))
        # bound the memory held by finished blocks; write them in order
        while len(self._pending) > 2 * self._workers or (last and self._pending):
            self._file.write(self._pending.popleft().result())

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while self._buffered + len(view) >= self.BLOCK:
            take = self.BLOCK - self._buffered
            self._submit(b"".join([*self._pieces, view[:take]]), last=False)
            self._pieces, self._buffered, view = [], 0, view[take:]
        if len(view):
            self._pieces.append(view)
            self._buffered += len(view)

    def close(self) -> None:
        self._submit(b"".join(self._pieces), last=True)
        self._file.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
        self._file.close()
        self._pool.shutdown()

    def __enter__(self) -> GzipWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:  # without the trailer the file reads as truncated, never as complete
            self._pool.shutdown(cancel_futures=True)
            self._file.close()


@dataclass
class _Edit:
    source: int  # good line the bad one is made from
    line: int  # good line it replaces, or follows when inserted
    corruption: Corruption
    text: str = ""


def _lines_of(batch: pa.Array) -> tuple[np.ndarray, memoryview]:
    """Start offsets (n + 1) and data buffer of a newline-terminated string array."""
    batch = batch.combine_chunks() if isinstance(batch, pa.ChunkedArray) else batch
    offset_type = np.dtype(np.int64 if pa.types.is_large_string(batch.type) else np.int32)
    offsets = np.frombuffer(
        batch.buffers()[1],
        dtype=offset_type,
        count=len(batch) + 1,
        offset=batch.offset * offset_type.itemsize,
    )
    data = memoryview(batch.buffers()[2]) if len(batch) else memoryview(b"")
    return offsets.astype(np.int64), data


def write_lines(
    path: Path,
    batches: Iterable[pa.Array],
    n_lines: int,
    rng: np.random.Generator,
    share: float,
    corruptions: tuple[Corruption, ...],
) -> list[BadLine]:
    """Write n_lines newline-terminated lines, given in batches, gzip-compressed with bad lines spliced in."""
    k = bad_count(n_lines, share)
    weights = np.array([c.weight for c in corruptions])
    kinds = rng.choice(len(corruptions), size=k, p=weights / weights.sum()) if k else []
    # distinct sources, so a replaced line is never the original of an inserted duplicate
    sources = np.sort(rng.choice(n_lines, size=k, replace=False)) if k else []
    edits = []
    for source, c in zip(sources.tolist() if k else [], kinds, strict=True):
        after = min(n_lines - 1, source + int(rng.integers(0, 40))) if corruptions[c].inserted else source
        edits.append(_Edit(source, after, corruptions[c]))
    by_source = iter(edits)  # sources are sorted
    by_position = iter(sorted(edits, key=lambda e: (e.line, e.corruption.inserted)))
    next_source, next_edit = next(by_source, None), next(by_position, None)

    bad_lines, start, inserted = [], 0, 0
    with GzipWriter(path) as out:
        for batch in batches:
            offsets, data = _lines_of(batch)
            end = start + len(offsets) - 1
            # make the bad lines whose sources are in this batch; an insert never precedes its source
            while next_source is not None and next_source.source < end:
                i = next_source.source - start
                good = bytes(data[offsets[i] : offsets[i + 1] - 1]).decode()
                next_source.text = next_source.corruption.make(rng, good)
                next_source = next(by_source, None)
            cursor = start
            while next_edit is not None and next_edit.line < end:
                edit, next_edit = next_edit, next(by_position, None)
                stop = edit.line + 1 if edit.corruption.inserted else edit.line
                out.write(data[offsets[cursor - start] : offsets[stop - start]])
                out.write((edit.text + "\n").encode())
                cursor = edit.line + 1
                bad_lines.append(BadLine(stop + inserted + 1, edit.corruption.kind))
                inserted += edit.corruption.inserted
            out.write(data[offsets[cursor - start] : offsets[-1]])
            start = end
    assert start == n_lines, f"rendered {start} lines, expected {n_lines}"
    return bad_lines


def write_parts(
    landing_dir: Path,
    name_pattern: str,
    n_lines: int,
    render: Callable[[slice], pa.Array],
    rng: np.random.Generator,
    share: float,
    corruptions: tuple[Corruption, ...],
) -> tuple[list[tuple[str, BadLine]], int]:
    """Render and write n_lines in files of PART_LINES, named by `name_pattern` (relative, {} = part 1..).

    Parts of an earlier run with the same name pattern are removed first. Returns (relative file, bad line)
    pairs and the number of files written.
    """
    folder = (landing_dir / name_pattern).parent
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(Path(name_pattern.replace("{:04d}", "*")).name):
        stale.unlink()
    bad, n_parts = [], max(1, -(-n_lines // PART_LINES))
    for k in range(n_parts):
        relative = name_pattern.format(k + 1)
        first, last = k * PART_LINES, min(n_lines, (k + 1) * PART_LINES)
        batches = (render(slice(b, min(b + BATCH_LINES, last))) for b in range(first, last, BATCH_LINES))
        written = write_lines(landing_dir / relative, batches, last - first, rng, share, corruptions)
        bad += [(relative, b) for b in written]
    return bad, n_parts
