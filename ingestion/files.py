"""Landing-zone files: find the ones not loaded yet and read them as numbered lines.

Events and logs arrive as daily folders (`<kind>/YYYY-MM-DD/*`), optionally gzip-compressed. A file is
loaded once: the set of loaded files lives in the dlt resource state, which dlt commits together with
the data it loaded. Byte-level damage (a truncated gzip, invalid UTF-8) is reported per line, so the
caller can quarantine exactly the affected lines and keep the rest.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

log = logging.getLogger(__name__)

DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LINE_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("line_number", pa.int64()),
        ("raw_line", pa.string()),
        ("read_error", pa.string()),
    ]
)


@dataclass(frozen=True)
class LandingFile:
    path: Path
    relative: str  # path below the landing dir: the file's identity in load state and quarantine
    day: dt.date


def new_files(
    landing_dir: Path, kind: str, suffixes: tuple[str, ...], loaded: dict[str, int], until: dt.date | None
) -> list[LandingFile]:
    """Files under `<landing>/<kind>/YYYY-MM-DD/` not loaded yet, oldest day first.

    Days after `until` (the run's logical date) are left for later runs; folders that are not dates are
    skipped with a warning rather than guessed at.
    """
    root = landing_dir / kind
    if not root.is_dir():
        return []
    found = []
    for day_dir in sorted(root.iterdir()):
        if not day_dir.is_dir():
            continue
        if not DAY_FOLDER.match(day_dir.name):
            log.warning("skipping %s: landing folders must be named YYYY-MM-DD", day_dir)
            continue
        day = dt.date.fromisoformat(day_dir.name)
        if until is not None and day > until:
            continue
        for path in sorted(day_dir.iterdir()):
            relative = path.relative_to(landing_dir).as_posix()
            if path.is_file() and path.name.endswith(suffixes) and relative not in loaded:
                found.append(LandingFile(path, relative, day))
    return found


def _decompress(path: Path, data: bytes) -> tuple[bytes, str | None]:
    """Gunzip what can be read; a truncated or corrupt stream keeps its readable prefix."""
    if not path.name.endswith(".gz"):
        return data, None
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data)
    except zlib.error as exc:
        return b"", f"corrupt gzip file: {exc}"
    if not inflater.eof:
        return out, "truncated gzip file: line cut off at the end of the readable data"
    return out, None


def read_lines(file: LandingFile) -> pa.Table:
    """Every non-blank line of a file with its 1-based line number and any byte-level error."""
    data, file_error = _decompress(file.path, file.path.read_bytes())
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"" and file_error is None:
        raw_lines.pop()  # the file's final newline
    try:
        lines = data.decode("utf-8").split("\n")[: len(raw_lines)]
        errors: list[str | None] = [None] * len(lines)
    except UnicodeDecodeError:
        lines, errors = [], []
        for raw in raw_lines:
            try:
                lines.append(raw.decode("utf-8"))
                errors.append(None)
            except UnicodeDecodeError as exc:
                lines.append(raw.decode("utf-8", errors="replace"))
                errors.append(f"invalid UTF-8 at byte {exc.start}")
    if file_error is not None:
        if lines and lines[-1].strip():
            errors[-1] = file_error
        elif not lines or not any(line.strip() for line in lines):
            lines, errors = [""], [file_error]  # nothing readable: one quarantine row for the file
    keep = [i for i, line in enumerate(lines) if line.strip() or errors[i]]
    return pa.table(
        {
            "source_file": pa.array([file.relative] * len(keep), pa.string()),
            "line_number": pa.array([i + 1 for i in keep], pa.int64()),
            "raw_line": pa.array([lines[i].rstrip("\r") for i in keep], pa.string()),
            "read_error": pa.array([errors[i] for i in keep], pa.string()),
        },
        schema=LINE_SCHEMA,
    )


def iter_line_batches(files: list[LandingFile]) -> Iterator[tuple[LandingFile, pa.Table]]:
    for file in files:
        log.info("reading %s", file.relative)
        yield file, read_lines(file)


class LineValidator:
    """Turns a batch of numbered lines into (valid rows, quarantined rows) with one SQL query.

    `sql` reads the registered Arrow table `lines` (see LINE_SCHEMA) and returns the typed columns plus
    `source_file`, `line_number`, `raw_line` and `reason` (null when the row is valid). Subclasses may
    keep state in the in-memory DuckDB connection across batches (e.g. ids already seen).
    """

    sql: str = ""
    data_columns: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()  # never null in valid rows: marked so, to match the dlt primary-key hint

    def __init__(self) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("set TimeZone = 'UTC'; set enable_progress_bar = false")

    def __call__(self, lines: pa.Table) -> tuple[pa.Table, pa.Table]:
        self.con.register("lines", lines)
        try:
            self.con.execute(f"create or replace temp table checked as {self.sql}")
        finally:
            self.con.unregister("lines")
        self.after_batch()
        valid = self.con.sql(
            f"select {', '.join(self.data_columns)} from checked where reason is null order by line_number"
        )
        quarantined = self.con.sql(
            "select source_file, line_number, raw_line, reason from checked where reason is not null "
            "order by line_number"
        )
        valid_rows = valid.arrow().read_all()
        schema = pa.schema([field.with_nullable(field.name not in self.keys) for field in valid_rows.schema])
        return valid_rows.cast(schema), quarantined.arrow().read_all()

    def after_batch(self) -> None:
        """Hook run once `checked` holds the batch (e.g. to remember ids)."""

    def close(self) -> None:
        self.con.close()


def as_quarantine(rows: pa.Table) -> object:
    """Send rejected rows to the source's `quarantine` table: append-only, none of the data table's keys."""
    import dlt

    hints = dlt.mark.make_hints(
        table_name="quarantine", write_disposition="append", primary_key=[], merge_key=[]
    )
    return dlt.mark.with_hints(rows, hints, create_table_variant=True)


def load_new_files(
    kind: str,
    suffixes: tuple[str, ...],
    landing_dir: Path,
    until: dt.date | None,
    validator: LineValidator,
    counts: dict[str, int],
) -> Iterator[object]:
    """Body of a dlt resource over daily landing files: yields valid rows and quarantine rows.

    Must run inside a dlt resource: the loaded-file set is that resource's state.
    """
    import dlt

    loaded: dict[str, int] = dlt.current.resource_state().setdefault("loaded_files", {})
    files = new_files(landing_dir, kind, suffixes, loaded, until)
    log.info("%s: %d new file(s)", kind, len(files))
    try:
        for file, lines in iter_line_batches(files):
            counts["rows_read"] = counts.get("rows_read", 0) + lines.num_rows
            valid, quarantined = validator(lines)
            if valid.num_rows:
                yield valid
            if quarantined.num_rows:
                yield as_quarantine(quarantined)
            loaded[file.relative] = file.path.stat().st_size
            counts["files"] = counts.get("files", 0) + 1
    finally:
        validator.close()
