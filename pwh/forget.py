"""`pwh forget`: erase one person from everything pwh writes, and keep them out of later loads.

A person is named by an email or a person_id and resolved to every identifier stitched to them
(`marts.user_identities` of every warehouse file), then to closure over the raw tables: a CRM record or
an event that carries one of their identifiers reveals the others it carries (a customer's email, an
event's cookie), and their orders. A revealed identifier is taken only if it is not blocked junk
(`intermediate.int_identifiers_blocked`) and not stitched to someone else: a cookie shared with another
person is not theirs to erase. Rows that carry any of the person's identifiers go everywhere:

- every table of every DuckDB file pwh writes (`*.duckdb` under the data dir, the build and published
  warehouses): identifier and key columns by value (customer_id, user_id, email, anonymous_id, person_id,
  order_id, identifier_type + identifier_value), every text or nested column by the distinctive
  identifiers it contains (emails, cookies, person ids: quarantined raw lines, JSON, URLs), CRM
  quarantine lines by their JSON keys. A file with a match is copied table by table into a fresh file
  without those rows and renamed onto the old one, so the deleted bytes are gone, not just unreferenced;
- every Parquet file of the raw lake and of dlt's load packages (rewritten, renamed into place);
- segment export CSVs (rewritten; their manifest's row counts and hashes follow) - the erasure log lists
  which export files held the person, since copies may have left pwh;
- any other file under the data dir (data quality docs and results, run reports, dbt logs): run reports
  are rendered again, other text files have the identifiers replaced with `[erased]`, binary files
  (caches) that hold one are deleted.

The landing zone is the source systems' and is never touched. Instead the identifiers are added, hashed,
to the suppression list (`ingestion/suppression.py`) before anything is erased, so ingestion drops the
person's rows from then on. The erasure log (`<data_dir>/privacy/erasures.jsonl`, and `audit.erasures`
in the warehouse files) holds what was erased where, in counts and paths: no identifier, no hash.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import os
import re
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import suppression
from pwh.publish import build_settings, wal_path
from pwh.settings import Settings, is_local, url_to_fs
from pwh.warehouse import sql_literal

log = logging.getLogger(__name__)

PRIVACY_DIR = "privacy"
ERASURE_LOG = "erasures.jsonl"
REDACTED = "[erased]"
# column name -> the kind of value it holds, matched exactly (after trim and lower case)
KEY_COLUMNS = {
    "customer_id": "customer_id",
    "cluster_id": "customer_id",  # dedupe clusters are named after one of their customer ids
    "user_id": "user_id",
    "email": "email",
    "anonymous_id": "anonymous_id",
    "person_id": "person_id",
    "merged_into_person_id": "person_id",
    "order_id": "order_id",
}
TEXT_TYPES = ("VARCHAR", "JSON", "STRUCT", "MAP", "UNION")
ERASURES_DDL = """
create schema if not exists {db}.audit;
create table if not exists {db}.audit.erasures (
    erasure_id varchar not null,
    requested_at timestamptz not null,
    identified_by varchar not null,
    identifiers integer not null,
    rows_removed bigint not null,
    files_changed integer not null,
    export_files varchar,
    details varchar
);
"""


class ForgetError(ValueError):
    """The person cannot be forgotten as asked (unknown, or something is writing the warehouse)."""


@dataclass
class Person:
    identified_by: str  # 'email' or 'person_id': how the request named them, never the value
    values: dict[str, set[str]] = field(default_factory=dict)  # kind -> normalised values

    def of(self, kind: str) -> set[str]:
        return self.values.setdefault(kind, set())

    @property
    def identifiers(self) -> list[tuple[str, str]]:
        """(type, value) of the identifiers the suppression list keeps."""
        return [(kind, value) for kind in suppression.IDENTIFIER_TYPES for value in sorted(self.of(kind))]

    @property
    def terms(self) -> list[str]:
        """Values distinctive enough to look for inside any text: not numeric ids, not short ones."""
        kinds = ("email", "anonymous_id", "person_id", "user_id", "customer_id")
        found = {value for kind in kinds for value in self.of(kind)}
        return sorted(value for value in found if len(value) >= 6 and not value.isdigit())


@dataclass
class Erasure:
    """What one `forget` erased (or would, on a dry run): counts and paths, no personal data."""

    erasure_id: str
    requested_at: str
    identified_by: str
    identifiers: dict[str, int]  # identifier type -> how many the person had
    rows: dict[str, int] = field(default_factory=dict)  # "<file>: <schema.table>" or "<file>" -> rows removed
    rewritten: list[str] = field(default_factory=list)  # files rewritten without the rows
    redacted: list[str] = field(default_factory=list)  # text files with the identifiers replaced
    deleted: list[str] = field(default_factory=list)  # files removed (caches, completed dlt jobs)
    rendered: list[str] = field(default_factory=list)  # run reports rendered again
    export_files: list[str] = field(default_factory=list)  # segment exports that held the person
    left: list[str] = field(default_factory=list)  # files that mention the person and pwh cannot clean
    suppressed: int = 0  # identifiers newly added to the suppression list
    dry_run: bool = False

    @property
    def rows_removed(self) -> int:
        return sum(self.rows.values())


def _in(values: set[str]) -> str:
    return "(" + ", ".join(sql_literal(value) for value in sorted(values)) + ")"


def _is_in(expression: str, values: set[str]) -> str:
    """SQL: `expression in values`, false for no values."""
    return f"{expression} in {_in(values)}" if values else "false"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def predicate(columns: list[tuple[str, str]], person: Person) -> str | None:
    """SQL that is true for a row of a relation with `columns` (name, DuckDB type) that is the person's."""
    parts = []
    names = {name for name, _ in columns}
    terms = [term.lower() for term in person.terms]
    for name, kind in columns:
        column = _ident(name)
        values = person.of(KEY_COLUMNS[name]) if name in KEY_COLUMNS else set()
        if values:
            parts.append(f"lower(trim(cast({column} as varchar))) in {_in({v.lower() for v in values})}")
        if terms and (kind.startswith(TEXT_TYPES) or kind.endswith("]")):
            text = f"lower(cast({column} as varchar))"
            parts += [f"contains({text}, {sql_literal(term)})" for term in terms]
        if name == "raw_line":  # a quarantined CRM row is JSON: its keys may hold ids alone
            for key in ("customer_id", "order_id", "user_id"):
                if person.of(KEY_COLUMNS[key]):
                    parts.append(
                        f"(case when json_valid({column}) then trim(json_extract_string({column}, '$.{key}')) end)"
                        f" in {_in(person.of(KEY_COLUMNS[key]))}"
                    )
    if {"identifier_type", "identifier_value"} <= names:
        pairs = {f"{kind}:{value}" for kind, value in person.identifiers}
        if pairs:
            parts.append(f"(identifier_type || ':' || lower(trim(identifier_value))) in {_in(pairs)}")
    return " or ".join(f"coalesce({part}, false)" for part in parts) or None


# ---- who: resolve the person ------------------------------------------------------------------------


def warehouse_files(settings: Settings) -> list[Path]:
    """Every DuckDB file pwh writes: under the data dir (not the landing zone), the build and the published
    warehouse last (the others are erased first, so a failure leaves the person findable there)."""
    build = build_settings(settings)
    last = [path for path in (build.warehouse_path, build.published_path) if path and path.exists()]
    found = [
        path
        for path in sorted(settings.data_dir.rglob("*.duckdb"))
        if path.is_file()
        and not path.is_relative_to(settings.landing_dir)
        and not path.name.startswith(".")
        and path not in last
    ]
    return found + last


def _tables(con: duckdb.DuckDBPyConnection, db: str) -> set[str]:
    rows = con.execute(
        "select schema_name || '.' || table_name from duckdb_tables() where database_name = ? "
        "union all select schema_name || '.' || view_name from duckdb_views() where database_name = ?",
        [db, db],
    ).fetchall()
    return {name for (name,) in rows}


def resolve(settings: Settings, email: str | None = None, person_id: str | None = None) -> Person:
    """The person's identifiers (and orders) from every warehouse file; ForgetError if none knows them."""
    if (email is None) == (person_id is None):
        raise ForgetError("name the person with exactly one of --email or --person-id")
    person = Person("email" if email is not None else "person_id")
    if email is not None:
        person.of("email").add(suppression.normalise(email))
    else:
        person.of("person_id").add(person_id.strip())
    files = warehouse_files(settings)
    if not files:
        raise ForgetError(f"no warehouse under {settings.data_dir}: nothing to forget")
    _closure(files, person)
    if not any(person.of(kind) for kind in ("customer_id", "anonymous_id", "user_id")):
        if email is not None and suppression.SuppressionList.load(settings.data_dir).has("email", email):
            raise ForgetError("no one with that email in the warehouse: it was forgotten before")
        named = "that email" if email is not None else f"person id {person_id}"
        raise ForgetError(f"no one with {named} in the warehouse (see marts.user_identities)")
    return person


def _closure(files: list[Path], person: Person) -> None:
    """Grow the person's identifiers to closure over the identity map and the raw tables of the files."""
    for _ in range(10):
        before = {kind: set(values) for kind, values in person.values.items()}
        for path in files:
            con = duckdb.connect()
            db = _ident(path.stem)  # the catalog name the file's views refer to
            con.execute(f"attach {sql_literal(str(path))} as {db} (read_only)")
            try:
                tables = _tables(con, path.stem)
                # identifiers stitched to the person, and identifiers that are someone else's or junk
                others: set[tuple[str, str]] = set()
                if "marts.user_identities" in tables:
                    pairs = {f"{kind}:{value}" for kind, value in person.identifiers}
                    pair = "identifier_type || ':' || lower(trim(identifier_value))"
                    rows = con.execute(
                        f"""
                        with theirs as (
                            select distinct person_id from {db}.marts.user_identities
                            where {_is_in("person_id", person.of("person_id"))} or {_is_in(pair, pairs)}
                        )
                        select identifier_type, lower(trim(identifier_value)), person_id,
                            person_id in (select person_id from theirs)
                        from {db}.marts.user_identities
                        """
                    ).fetchall()
                    for kind, value, owner, is_theirs in rows:
                        if is_theirs:
                            person.of(kind).add(value)
                            person.of("person_id").add(owner)
                        else:
                            others.add((kind, value))
                if "intermediate.int_identifiers_blocked" in tables:
                    query = f"select identifier_type, lower(trim(identifier_value)) from {db}.intermediate.int_identifiers_blocked"
                    others |= set(con.execute(query).fetchall())
                _raw_links(con, db, tables, person, others)
            finally:
                con.close()
        if before == {kind: set(values) for kind, values in person.values.items()}:
            return


def _raw_links(con, db: str, tables: set[str], person: Person, others: set[tuple[str, str]]) -> None:
    """Identifiers and orders that the raw rows carrying the person's identifiers reveal."""

    def take(kind: str, values) -> None:
        for (value,) in values:
            if value is not None and value != "" and (kind, value) not in others:
                person.of(kind).add(value)

    def norm(column: str) -> str:
        return f"lower(trim(cast({column} as varchar)))"

    def carrying(kinds: tuple[str, ...]) -> str:
        return " or ".join(_is_in(norm(kind), person.of(kind)) for kind in kinds)

    # raw table -> (identifier columns that reveal one another, what else their rows reveal)
    links = {
        "raw_crm.customers": ("customer_id", "email"),
        "raw_events.events": ("anonymous_id", "user_id", "email"),
    }
    for table, kinds in links.items():
        if table in tables:
            for kind in kinds:
                query = f"select distinct {norm(kind)} from {db}.{table} where {carrying(kinds)}"
                take(kind, con.execute(query).fetchall())
    if "raw_crm.orders" in tables:
        query = (
            f"select distinct {norm('order_id')} from {db}.raw_crm.orders where {carrying(('customer_id',))}"
        )
        take("order_id", con.execute(query).fetchall())


# ---- where: erase ------------------------------------------------------------------------------------


def forget(
    settings: Settings, email: str | None = None, person_id: str | None = None, dry_run: bool = False
) -> Erasure:
    """Erase the person everywhere pwh writes (see the module docstring); returns what was erased.

    With `dry_run`, nothing changes: the result says what would be erased.
    """
    person = resolve(settings, email, person_id)
    files = warehouse_files(settings)
    _check_idle(settings, files)
    now = dt.datetime.now(dt.UTC)
    erasure = Erasure(
        erasure_id=f"erasure-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        requested_at=now.isoformat(timespec="seconds"),
        identified_by=person.identified_by,
        identifiers={kind: len(person.of(kind)) for kind in suppression.IDENTIFIER_TYPES},
        dry_run=dry_run,
    )
    if not dry_run:  # first: whatever happens below, later loads leave the person out
        erasure.suppressed = suppression.add(settings.data_dir, person.identifiers, erasure.erasure_id)
    filesystem, root = url_to_fs(settings.lake_url)
    _erase_parquet(filesystem, root, person, erasure, "lake")
    _erase_parquet(fsspec.filesystem("file"), str(settings.dlt_dir), person, erasure, "dlt")
    _erase_exports(settings, person, erasure)
    reports = _erase_other_files(settings, person, erasure)
    planned = {path: _erase_duckdb(path, person, None) for path in files}
    for path, counts in planned.items():
        for table, rows in counts.items():
            erasure.rows[f"{_shown(settings, path)}: {table}"] = rows
    if not dry_run:
        build = build_settings(settings)
        warehouses = {build.warehouse_path, build.published_path}  # they keep the erasure log
        for path in files:
            if planned[path] or path in warehouses:
                erasure.rewritten.append(_shown(settings, path))
        for path in files:
            _erase_duckdb(path, person, erasure, record=path in warehouses)
        _render_reports(settings, reports, person, erasure)
        _log(settings, erasure)
    else:
        erasure.rendered = [_shown(settings, path) for path in reports]
    log.info("forget %s: %d rows removed", erasure.erasure_id, erasure.rows_removed)
    return erasure


def _shown(settings: Settings, path: Path | str) -> str:
    """A path as the erasure log shows it: relative to the data dir when inside it."""
    path = Path(path)
    return (
        path.relative_to(settings.data_dir).as_posix()
        if path.is_relative_to(settings.data_dir)
        else str(path)
    )


def _check_idle(settings: Settings, files: list[Path]) -> None:
    """Refuse while something writes a warehouse or a dlt load is unfinished: its files would escape."""
    for path in files:
        if wal_path(path).exists():
            raise ForgetError(
                f"{wal_path(path)} exists: a run may be writing {path.name}; retry when it is done"
            )
    for pending in ("normalize/extracted", "load/new", "load/normalized"):
        for folder in settings.dlt_dir.glob(f"*/{pending}"):
            if any(path.is_file() for path in folder.rglob("*")):
                raise ForgetError(
                    f"an unfinished dlt load in {folder}: run `pwh ingest` to complete it, then forget"
                )


def _matches(con: duckdb.DuckDBPyConnection, relation: str, person: Person) -> tuple[str | None, int]:
    columns = [(row[0], row[1]) for row in con.execute(f"describe select * from {relation}").fetchall()]
    where = predicate(columns, person)
    if where is None:
        return None, 0
    return where, con.execute(f"select count(*) from {relation} where {where}").fetchone()[0]


def _erase_parquet(filesystem, root: str, person: Person, erasure: Erasure, label: str) -> None:
    """Rewrite every Parquet file under root that holds the person's rows without them."""
    if not filesystem.exists(root):
        return
    con = duckdb.connect()
    try:
        for path in sorted(filesystem.glob(f"{root.rstrip('/')}/**/*.parquet")):
            table = pq.read_table(path, filesystem=filesystem)
            con.register("parquet_rows", table)
            where, rows = _matches(con, "parquet_rows", person)
            if rows:
                shown = f"{label}/{Path(path).relative_to(root).as_posix()}"
                erasure.rows[shown] = rows
                if not erasure.dry_run:
                    kept = con.execute(f"select * from parquet_rows where not ({where})").fetch_arrow_table()
                    _replace_parquet(filesystem, path, kept.cast(table.schema))
                    erasure.rewritten.append(shown)
            con.unregister("parquet_rows")
    finally:
        con.close()


def _replace_parquet(filesystem, path: str, rows: pa.Table) -> None:
    temporary = f"{path}.{uuid.uuid4().hex[:8]}.forget"
    pq.write_table(rows, temporary, filesystem=filesystem, compression="zstd")
    filesystem.mv(temporary, path)  # a rename on a local disk; object stores replace the object whole


def _erase_exports(settings: Settings, person: Person, erasure: Erasure) -> None:
    """Rewrite the segment export CSVs (in a folder or on an object store) without the person; keep their
    manifests true."""
    import csv
    import hashlib
    import io

    from pwh.segments.export import MANIFEST, replace_file

    filesystem, root = url_to_fs(settings.exports_url)
    if not filesystem.exists(root):
        return
    root = root.rstrip("/")
    terms = [term.lower() for term in person.terms]
    for path in sorted(filesystem.glob(f"{root}/**/*.csv")):
        with filesystem.open(path, "r", newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        kept = [row for row in rows if not any(term in cell.lower() for cell in row for term in terms)]
        if len(kept) == len(rows):
            continue
        # a local file as before (relative to the data dir when inside it); else relative to the exports URL
        shown = _shown(settings, path) if is_local(filesystem) else f"exports/{path[len(root) + 1 :]}"
        erasure.export_files.append(shown)
        erasure.rows[shown] = len(rows) - len(kept)
        if erasure.dry_run:
            continue
        text = io.StringIO(newline="")
        csv.writer(text).writerows(kept)
        replace_file(filesystem, path, text.getvalue())
        erasure.rewritten.append(shown)
        manifest = f"{path.rsplit('/', 1)[0]}/{MANIFEST}"
        if filesystem.exists(manifest):
            content = json.loads(filesystem.cat_file(manifest))
            for entry in content.get("segments", []):
                if entry.get("file") == path.rsplit("/", 1)[-1]:
                    entry["members"] = max(entry.get("members", 0) - (len(rows) - len(kept)), 0)
                    entry["rows"] = len(kept) - 1
                    entry["sha256"] = hashlib.sha256(text.getvalue().encode("utf-8")).hexdigest()
            replace_file(filesystem, manifest, json.dumps(content, indent=2) + "\n")


def _erase_other_files(settings: Settings, person: Person, erasure: Erasure) -> list[Path]:
    """Every other file under the data dir and dlt's folder that mentions the person: text is redacted,
    binary files are deleted; run reports are returned, to be rendered again once the warehouse is clean."""
    terms = [term.lower().encode() for term in person.terms]
    if not terms:
        return []
    pattern = re.compile("|".join(re.escape(term.decode()) for term in terms), re.IGNORECASE)
    skip = [settings.landing_dir, settings.data_dir / PRIVACY_DIR]
    for url in (settings.lake_url, settings.exports_url):  # erased above, where they are local folders
        filesystem, path = url_to_fs(url)
        skip += [Path(path)] if is_local(filesystem) else []
    reports: list[Path] = []
    folders = [settings.data_dir] + (
        [] if settings.dlt_dir.is_relative_to(settings.data_dir) else [settings.dlt_dir]
    )
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if (
                not path.is_file()
                or any(path.is_relative_to(other) for other in skip)
                or path.name.endswith((".duckdb", ".duckdb.wal", ".parquet"))
            ):
                continue
            data = path.read_bytes()
            if path.name.endswith(".gz") or data.startswith(b"\x1f\x8b"):
                try:
                    data = gzip.decompress(data)
                except (OSError, EOFError):
                    pass
            lowered = data.lower()
            if not any(term in lowered for term in terms):
                continue
            shown = _shown(settings, path)
            if path.parent == settings.data_dir / "reports" and path.suffix == ".html":
                reports.append(path)
                continue
            try:
                text = path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                text = None
            if text is not None and pattern.search(text):
                erasure.redacted.append(shown)
                if not erasure.dry_run:
                    _write_text(path, pattern.sub(REDACTED, text))
            elif path.suffix in (".db", ".sqlite", ".sqlite3"):  # someone's database (Airflow's): not ours
                erasure.left.append(shown)
                log.warning("%s mentions the person and is no pwh file: erase them from it by hand", shown)
            else:  # binary, or compressed: caches and finished dlt jobs that nothing reads again
                erasure.deleted.append(shown)
                if not erasure.dry_run:
                    path.unlink()
    return reports


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.forget")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _erase_duckdb(
    path: Path, person: Person, erasure: Erasure | None, record: bool = False
) -> dict[str, int]:
    """Rows of the person per table of a DuckDB file; with an erasure, rewrite the file without them.

    The file is never opened for writing (the published one must not be): it is attached read-only, its
    schema (tables, views, macros, sequences) copied into a fresh file, every table copied without the
    person's rows, `audit.erasures` extended, and the fresh file renamed onto the old one.
    """
    con = duckdb.connect()
    db = _ident(path.stem)  # the catalog name views refer to: keep it
    try:
        con.execute(f"attach {sql_literal(str(path))} as {db} (read_only)")
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = ?", [path.stem]
        ).fetchall()
        found: dict[str, int] = {}
        filters: dict[tuple[str, str], str | None] = {}
        for schema, table in tables:
            relation = f"{db}.{_ident(schema)}.{_ident(table)}"
            filters[(schema, table)], rows = _matches(con, relation, person)
            if rows:
                found[f"{schema}.{table}"] = rows
        if erasure is None or not (found or record):
            return found
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.forget")
        try:
            con.execute(f"attach {sql_literal(str(temporary))} as fresh")
            con.execute(f"copy from database {db} to fresh (schema)")
            for (schema, table), where in filters.items():
                name = f"{_ident(schema)}.{_ident(table)}"
                keep = f" where not ({where})" if where else ""
                con.execute(f"insert into fresh.{name} select * from {db}.{name}{keep}")
            if record:
                _record(con, erasure)
            con.execute("detach fresh")
            con.execute(f"detach {db}")
            os.chmod(temporary, path.stat().st_mode & 0o7777)  # the full warehouse stays owner and group only
            with temporary.open("rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
            wal_path(temporary).unlink(missing_ok=True)
        return found
    finally:
        con.close()


def _record(con: duckdb.DuckDBPyConnection, erasure: Erasure) -> None:
    """Add the erasure to `fresh.audit.erasures`."""
    con.execute(ERASURES_DDL.format(db="fresh"))
    con.execute(
        "insert into fresh.audit.erasures values (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            erasure.erasure_id,
            erasure.requested_at,
            erasure.identified_by,
            sum(erasure.identifiers.values()),
            erasure.rows_removed,
            len(set(erasure.rewritten + erasure.redacted + erasure.deleted)),
            json.dumps(erasure.export_files),
            json.dumps(_details(erasure)),
        ],
    )


def _details(erasure: Erasure) -> dict:
    shown = asdict(erasure)
    shown.pop("dry_run")
    return shown


def _render_reports(settings: Settings, reports: list[Path], person: Person, erasure: Erasure) -> None:
    """Render the run reports that mentioned the person again, from the cleaned published warehouse."""
    from pwh.report import write_report

    dates = sorted({path.stem for path in reports if path.stem != "latest"})
    if any(path.stem == "latest" for path in reports):
        dated = sorted(path.stem for path in (settings.data_dir / "reports").glob("????-??-??.html"))
        dates = sorted(set(dates) | set(dated[-1:]))
    for day in dates:
        write_report(settings, dt.date.fromisoformat(day))
    erasure.rendered = [_shown(settings, path) for path in reports]
    leftover = _erase_other_files(settings, person, erasure)  # e.g. no warehouse left to render from
    for path in leftover:
        path.unlink()
        erasure.deleted.append(_shown(settings, path))


def _log(settings: Settings, erasure: Erasure) -> None:
    """Append the erasure to the log file (the warehouse files got it in `audit.erasures`)."""
    path = settings.data_dir / PRIVACY_DIR / ERASURE_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(_details(erasure), sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def summary_counts(erasure: Erasure) -> Counter[str]:
    """Rows removed per place (warehouse file, lake, dlt, exports), for the command's summary."""
    places: Counter[str] = Counter()
    for key, rows in erasure.rows.items():
        places[key.split(":")[0] if ":" in key else key.split("/")[0]] += rows
    return places
