"""Segments handed to marketers: `pwh segments list`, one segment as a CSV file, and the nightly export folder.

Everything here reads the tables the segments step built (`pwh.segments.build`) through one read-only
connection, so a file is one consistent snapshot of the warehouse. A CSV has one row per member:
person_id, email, first_name, entered_at (UTC) and one column per value feature of the segment, the
values that put the person there. Only people who agreed to marketing (`user_profiles.has_marketing_opt_in`)
are written unless `include_no_consent` is asked for explicitly.

Cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return, the
OWASP "CSV injection" list) get a leading single quote, so they show as text; plain numbers such as -5
are left as they are. Files are written under a temporary name and renamed into place, so a reader never
sees half a file. The nightly folder may also be on an object store (`exports_url` an fsspec URL such as
`s3://bucket/exports`): its files are made locally, then uploaded one whole object at a time.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import json
import logging
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pwh.segments.rules import did_you_mean
from pwh.settings import Settings, is_local, url_to_fs

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

log = logging.getLogger(__name__)

BASE_COLUMNS = ("person_id", "email", "first_name", "entered_at")
MANIFEST = "manifest.json"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BATCH = 10_000


class ExportError(ValueError):
    """A segment cannot be exported: no segments built yet, a path that cannot be written, a stale run."""


class UnknownSegmentError(ExportError):
    """No segment of that name; the message lists the known ones."""


@dataclass(frozen=True)
class ExportSummary:
    segment: str
    path: Path
    rows: int  # people written
    members: int  # people in the segment, with or without consent
    columns: tuple[str, ...]
    sha256: str  # of the file's bytes
    run_id: str  # the run that built the segment tables: the warehouse snapshot the file comes from
    include_no_consent: bool

    @property
    def left_out(self) -> int:
        """Members not written because they have not agreed to marketing."""
        return self.members - self.rows


@dataclass(frozen=True)
class SegmentListing:
    """One line of `pwh segments list`: `change` is members minus the previous run date's (None if new)."""

    name: str
    description: str
    owner: str
    members: int
    entered: int
    exited: int
    change: int | None
    run_date: dt.date
    previous_run_date: dt.date | None


@dataclass(frozen=True)
class _Definition:
    name: str
    value_features: tuple[str, ...]
    run_id: str
    run_date: dt.date


def neutralise(cell: str) -> str:
    """The cell as a spreadsheet shows it verbatim: a leading ' before what would run as a formula."""
    if cell.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def list_segments(settings: Settings) -> list[SegmentListing]:
    """Every segment built by the last run, by name, with its size and its change since the run before."""
    from pwh.warehouse import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        _definitions(con, settings)
        rows = con.execute(
            """
            with sizes as (
                select
                    *,
                    lag(members) over (partition by segment_name order by run_date) as previous_members,
                    lag(run_date) over (partition by segment_name order by run_date) as previous_run_date
                from marts.segment_sizes
            )
            select
                definitions.segment_name,
                definitions.description,
                definitions.owner,
                coalesce(sizes.members, 0),
                coalesce(sizes.entered, 0),
                coalesce(sizes.exited, 0),
                sizes.members - sizes.previous_members,
                definitions.run_date,
                sizes.previous_run_date
            from marts.segment_definitions as definitions
            left join sizes
                on definitions.segment_name = sizes.segment_name
                and definitions.run_date = sizes.run_date
            order by definitions.segment_name
            """
        ).fetchall()
    return [SegmentListing(*row) for row in rows]


def export_segment(
    settings: Settings, name: str, out_path: str | Path, include_no_consent: bool = False
) -> ExportSummary:
    """Write one segment's members to a CSV file (see the module docstring for what is in it).

    Raises UnknownSegmentError for a name the warehouse does not know, ExportError for a path that
    cannot be written (its folder must exist) or a warehouse without segments.
    """
    from pwh.warehouse import connect

    out_path = Path(out_path)
    with connect(settings.warehouse_path, read_only=True) as con:
        definitions = _definitions(con, settings)
        if name not in definitions:
            known = sorted(definitions)
            raise UnknownSegmentError(
                f"unknown segment '{name}'{did_you_mean(name, known)}; the segments are: {', '.join(known)} "
                "(`pwh segments list` shows them with their sizes)"
            )
        summary = _export(con, definitions[name], out_path, include_no_consent)
    consent = "" if include_no_consent else f", {summary.left_out} left out without marketing consent"
    log.info("exported %s: %d people to %s%s", name, summary.rows, out_path, consent)
    return summary


def export_all(settings: Settings, run_date: dt.date, run_id: str) -> Path | str:
    """Every segment's CSV (marketing consent only) and a manifest.json into <exports_url>/<run date>/.

    The segment tables must come from this run (`run_id`), so a folder never mixes runs. A rerun writes
    the same files again; CSVs of segments no longer in the catalogue are removed. The manifest is
    removed first and written last: a folder with a manifest is complete, also after a failed rerun.
    Exports at an fsspec URL (`s3://bucket/exports`) are written to a local temporary folder first, then
    uploaded one whole file at a time, the manifest last. Returns the folder (its URL on an object store).
    """
    from pwh.warehouse import connect

    filesystem, root = url_to_fs(settings.exports_url)
    folder = f"{root.rstrip('/')}/{run_date.isoformat()}"
    remote = not is_local(filesystem)
    shown = filesystem.unstrip_protocol(folder) if remote else folder
    with connect(settings.warehouse_path, read_only=True) as con:
        definitions = _definitions(con, settings)
        built = {(definition.run_id, definition.run_date) for definition in definitions.values()}
        if built != {(run_id, run_date)}:
            found = ", ".join(f"run {rid} of {date}" for rid, date in sorted(built))
            raise ExportError(
                f"the segment tables come from {found}, not run {run_id} of {run_date}: "
                "run the segments step of this run before exporting"
            )
        try:
            filesystem.makedirs(folder, exist_ok=True)
            if filesystem.exists(f"{folder}/{MANIFEST}"):
                filesystem.rm_file(f"{folder}/{MANIFEST}")
        except OSError as error:
            raise ExportError(f"cannot create the export folder {shown}: {error.strerror or error}") from None
        staging = contextlib.nullcontext(folder)
        if remote:
            staging = tempfile.TemporaryDirectory(prefix="pwh-export-")
        with staging as made_in:
            made_in = Path(made_in)
            summaries = [
                _export(con, definition, made_in / f"{name}.csv", include_no_consent=False)
                for name, definition in sorted(definitions.items())
            ]
            manifest = {
                "run_id": run_id,
                "run_date": run_date.isoformat(),
                "warehouse_snapshot": run_id,
                "consent": "marketing opt-in only",
                "segments": [
                    {
                        "segment": summary.segment,
                        "file": summary.path.name,
                        "rows": summary.rows,
                        "members": summary.members,
                        "columns": list(summary.columns),
                        "sha256": summary.sha256,
                    }
                    for summary in summaries
                ],
            }
            text = json.dumps(manifest, indent=2) + "\n"
            _write_atomically(made_in / MANIFEST, lambda handle: handle.write(text), newline="\n")
            if remote:
                for name in [summary.path.name for summary in summaries] + [MANIFEST]:
                    try:
                        filesystem.put_file(str(made_in / name), f"{folder}/{name}")
                    except OSError as error:
                        problem = error.strerror or error
                        raise ExportError(f"cannot upload {shown}/{name}: {problem}") from None
    written = {summary.path.name for summary in summaries}
    for stale in filesystem.ls(folder, detail=False):
        if stale.endswith(".csv") and stale.rsplit("/", 1)[-1] not in written:
            filesystem.rm_file(stale)
            log.info("removed %s: the segment is no longer in the catalogue", stale)
    log.info("exported %d segments to %s", len(summaries), shown)
    return shown if remote else Path(folder)


def replace_file(filesystem: AbstractFileSystem, path: str, text: str) -> None:
    """Write `text` (UTF-8, line ends as they are) at `path` so that readers see the old file or the new
    one, never half of it: a rename on a local disk, one upload on an object store (an object is replaced
    whole)."""
    if is_local(filesystem):
        _write_atomically(Path(path), lambda handle: handle.write(text), newline="")
    else:
        filesystem.pipe_file(path, text.encode("utf-8"))


def _definitions(con, settings: Settings) -> dict[str, _Definition]:
    """The segments as the last segments step built them; a clear error when there are none."""
    built = con.execute(
        """
        select count(*) from duckdb_tables()
        where database_name = current_database() and schema_name = 'marts'
            and table_name in ('segment_definitions', 'segment_memberships', 'segment_sizes')
        """
    ).fetchone()[0]
    if built < 3:
        raise ExportError(
            f"the warehouse at {settings.warehouse_path} has no segments yet: run `pwh run` first"
        )
    rows = con.execute(
        "select segment_name, value_features, run_id, run_date from marts.segment_definitions"
    ).fetchall()
    return {name: _Definition(name, tuple(values), run_id, date) for name, values, run_id, date in rows}


def _export(con, definition: _Definition, out_path: Path, include_no_consent: bool) -> ExportSummary:
    # a value feature that is also a base column (person_id) is not repeated
    values = tuple(name for name in definition.value_features if name not in BASE_COLUMNS)
    columns = BASE_COLUMNS + values
    members = con.execute(
        "select count(*) from marts.segment_memberships where segment_name = ?", [definition.name]
    ).fetchone()[0]
    result = con.execute(
        """
        select
            memberships.person_id,
            profiles.email,
            profiles.first_name,
            memberships.entered_at,
            memberships.rule_values,
        from marts.segment_memberships as memberships
        left join marts.user_profiles as profiles
            on memberships.person_id = profiles.person_id
        where memberships.segment_name = $name
            and ($everyone or coalesce(profiles.has_marketing_opt_in, false))
        order by memberships.person_id
        """,
        {"name": definition.name, "everyone": include_no_consent},
    )
    rows = 0

    def write(handle) -> None:
        nonlocal rows
        writer = csv.writer(handle)
        writer.writerow(columns)
        while batch := result.fetchmany(_BATCH):
            for person_id, email, first_name, entered_at, rule_values in batch:
                found = json.loads(rule_values, parse_float=Decimal)
                cells = [person_id, email, first_name, entered_at] + [found.get(name) for name in values]
                writer.writerow([_cell(value) for value in cells])
            rows += len(batch)

    _write_atomically(out_path, write, newline="")
    return ExportSummary(
        segment=definition.name,
        path=out_path,
        rows=rows,
        members=members,
        columns=columns,
        sha256=_sha256(out_path),
        run_id=definition.run_id,
        include_no_consent=include_no_consent,
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return neutralise(str(value))


def _write_atomically(path: Path, write, *, newline: str) -> None:
    """Write through `write(handle)` to a temporary file next to path, then rename it onto path."""
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a folder; give a file name such as {path / 'out.csv'}")
    if not path.parent.is_dir():
        problem = "is not a folder" if path.parent.exists() else "does not exist"
        raise ExportError(f"cannot write {path}: {path.parent} {problem}")
    # a name of our own rather than mkstemp's: the file gets the usual permissions (umask), not 0600
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with temporary.open("x", encoding="utf-8", newline=newline) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        raise ExportError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        _remove(temporary)
        raise


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):  # the error that brought us here is the one to report
        path.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
