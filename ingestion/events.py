"""Analytics events: JSON lines (optionally gzip) under `events/YYYY-MM-DD/` -> `raw_events`.

The checks come from the event JSON Schema in `schemas/event.schema.json`: required fields, types, enums,
number ranges and timestamp format are compiled into one DuckDB query, so the schema file stays the
single definition of a valid event. A row failing any check, a malformed line, a time outside what a
tracker can record (files.time_window_reasons) and a repeated `event_id` (within the batch, across files
of the run, or against what the warehouse already holds) go to `raw_events.quarantine` with the reason;
everything else lands in `raw_events.events`, nested objects flattened to columns.

Fields the schema does not define (schema drift: a tracker that sends something new) are kept, not
dropped: the valid row carries them in `extra_fields`, a JSON object holding them where the event had them
(`{"loyalty_tier": "gold", "product": {"color": "red"}}`), and the load audit and the log name them by
path (`loyalty_tier`, `product.color`). One JSON column rather than a column per new field: its type never
changes whatever a tracker sends, and a field later added to the schema gets its own typed column without
clashing with an earlier guess.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import dlt

from ingestion.files import LineValidator, ReadCounts, load_new_files, time_window_reasons
from ingestion.suppression import SuppressionList

SCHEMA_PATH = Path(__file__).parent / "schemas" / "event.schema.json"
SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz")

# JSON Schema type -> (DuckDB json_type values accepted, DuckDB column type)
JSON_TYPES = {
    "string": (("VARCHAR",), "varchar"),
    "number": (("DOUBLE", "UBIGINT", "BIGINT"), "double"),
    "integer": (("UBIGINT", "BIGINT"), "bigint"),
    "object": (("OBJECT",), "varchar"),  # a leaf object (free-form properties) is kept as JSON text
    "boolean": (("BOOLEAN",), "boolean"),
}
OFFSET_SUFFIX = r"(Z|[+-]\d{2}:?\d{2})$"


@dataclass(frozen=True)
class Field:
    """One column of raw_events.events, derived from a (possibly nested) schema property."""

    path: str  # JSON path, e.g. $.product.price
    position: int  # 1-based index into `kinds`, the JSON types of the row's values (see EventValidator)
    column: str
    json_type: str
    required: bool
    enum: tuple[str, ...] | None
    is_datetime: bool
    minimum: float | None = None
    maximum: float | None = None
    members: tuple[str, ...] | None = None  # an object flattened into its members' columns: their names
    text_position: int = 0  # 1-based index into `texts`; 0: no text (an object flattened into its members)

    @property
    def kind(self) -> str:
        """SQL of the value's JSON type ('VARCHAR', 'NULL', ...; null when absent)."""
        return f"kinds[{self.position}]"

    @property
    def text(self) -> str:
        """SQL of the value as text: a string unquoted, anything else as JSON."""
        return f"texts[{self.text_position}]" if self.text_position else "null::varchar"

    @property
    def sql_value(self) -> str:
        if self.is_datetime:
            return f"try_cast({self.text} as timestamptz)"
        if self.json_type == "object":
            # the JSON text of the object; a JSON null is kept as the text 'null', as json_extract gives it
            return f"case when {self.kind} = 'NULL' then 'null' else {self.text} end"
        return f"try_cast({self.text} as {JSON_TYPES[self.json_type][1]})"

    def sql_reason(self) -> str:
        """A SQL CASE branch that names what is wrong with this field, or nothing."""
        kind = self.kind
        accepted = ", ".join(f"'{name}'" for name in JSON_TYPES[self.json_type][0])
        text = self.text
        branches = []
        if self.required:
            branches.append(
                f"when coalesce({kind}, 'NULL') = 'NULL' or {text} = '' "
                f"then 'missing required field {self.column}'"
            )
        branches.append(
            f"when {kind} not in ('NULL', {accepted}) "
            f"then 'field {self.column}: expected {self.json_type}, got ' || lower({kind})"
        )
        if self.enum:
            allowed = ", ".join(f"'{value}'" for value in self.enum)
            branches.append(f"when {text} not in ({allowed}) then 'unknown {self.column} ' || {quote(text)}")
        if self.is_datetime:
            branches.append(
                f"when {kind} = 'VARCHAR' and (try_cast({text} as timestamptz) is null "
                f"or not regexp_matches({text}, '{OFFSET_SUFFIX}')) "
                f"then 'invalid timestamp in {self.column} (ISO-8601 with UTC offset expected): ' "
                f"|| {quote(text)}"
            )
        if self.json_type in ("number", "integer"):
            number = f"try_cast({text} as double)"
            # NaN and Infinity are not JSON, but DuckDB's parser reads them as numbers
            branches.append(
                f"when not isfinite({number}) then 'field {self.column}: not a number: ' || {quote(text)}"
            )
            if self.minimum is not None:
                branches.append(
                    f"when {number} < {self.minimum} "
                    f"then 'field {self.column} below its minimum {self.minimum}: ' || {quote(text)}"
                )
            if self.maximum is not None:
                branches.append(
                    f"when {number} > {self.maximum} "
                    f"then 'field {self.column} above its maximum {self.maximum}: ' || {quote(text)}"
                )
        return "\n            ".join(branches)


def quote(sql_text: str) -> str:
    return f"'''' || left({sql_text}, 80) || ''''"


def _fields(properties: dict, required: set[str], prefix: str = "$", parent: str = "") -> list[Field]:
    fields = []
    for name, spec in properties.items():
        types = spec.get("type")
        types = [types] if isinstance(types, str) else list(types)
        json_type = next(t for t in types if t != "null")
        path = f"{prefix}.{name}"
        column = name if not parent or name.startswith(f"{parent}_") else f"{parent}_{name}"
        if json_type == "object" and "properties" in spec:
            # the object itself is checked (an object or null) but has no column: its members do
            members = tuple(spec["properties"])
            fields.append(Field(path, 0, column, json_type, name in required, None, False, members=members))
            fields += _fields(spec["properties"], set(spec.get("required", [])), path, name)
            continue
        enum = tuple(spec["enum"]) if "enum" in spec else None
        is_datetime = spec.get("format") == "date-time"
        minimum, maximum = spec.get("minimum"), spec.get("maximum")
        fields.append(
            Field(path, 0, column, json_type, name in required, enum, is_datetime, minimum, maximum)
        )
    return fields


@cache
def event_fields() -> tuple[Field, ...]:
    schema = json.loads(SCHEMA_PATH.read_text())
    fields = [
        replace(field, position=index)
        for index, field in enumerate(_fields(schema["properties"], set(schema.get("required", []))), start=1)
    ]
    # an object's members have texts of their own: its text would be the members again, written as JSON
    with_text = [field for field in fields if field.members is None]
    texts = {field.path: index for index, field in enumerate(with_text, start=1)}
    return tuple(replace(field, text_position=texts.get(field.path, 0)) for field in fields)


@cache
def top_level_names() -> tuple[str, ...]:
    return tuple(json.loads(SCHEMA_PATH.read_text())["properties"])


def sql_strings(values: tuple[str, ...]) -> str:
    """A DuckDB list literal of the strings."""
    return "[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def key_paths(objects: list[Field]) -> str:
    """A DuckDB list of the paths whose keys `keys` holds: the row's, then each object's in turn."""
    return sql_strings(("$", *(obj.path for obj in objects)))


def new_fields_sql(objects: list[Field]) -> tuple[str, str]:
    """SQL of (the paths of a row's fields the schema lacks, the JSON object of them), given `keys` (see
    `key_paths`) and `kept`.

    Paths are dotted (`loyalty_tier`, `product.color`); the members of `properties` are free-form. `kept`
    is the row with every known field removed (`known_fields_patch`), computed only when a path exists.
    """
    parts = [f"list_filter(keys[1], lambda key: not list_contains({sql_strings(top_level_names())}, key))"]
    for index, obj in enumerate(objects, start=2):
        name = obj.path.removeprefix("$.")
        parts.append(
            f"list_transform(list_filter(coalesce(keys[{index}], []), "
            f"lambda key: not list_contains({sql_strings(obj.members)}, key)), lambda key: '{name}.' || key)"
        )
    paths = parts[0]
    for part in parts[1:]:
        paths = f"list_concat({paths}, {part})"
    # the objects that removing the known fields emptied go too: what is left is the new fields alone
    emptied = ", ".join(
        f"'{obj.path.removeprefix('$.')}', "
        f"case when len(json_keys(kept, '{obj.path}')) > 0 then json_extract(kept, '{obj.path}') end"
        for obj in objects
    )
    return paths, f"json_merge_patch(kept, json_object({emptied}))"


def known_fields_patch(objects: list[Field]) -> str:
    """A JSON merge patch (RFC 7396) that removes every field the schema defines: it sets them to null."""
    patch: dict = dict.fromkeys(top_level_names())
    for obj in objects:
        patch[obj.path.removeprefix("$.")] = dict.fromkeys(obj.members or ())
    return json.dumps(patch)


class EventValidator(LineValidator):
    """Schema checks plus event_id de-duplication against earlier batches and the warehouse."""

    keys = ("event_id",)

    def __init__(self, warehouse_path: Path | None, until: dt.date | None = None) -> None:
        super().__init__()
        fields = event_fields()
        columns = [field for field in fields if field.members is None]
        objects = [field for field in fields if field.members is not None]
        self.data_columns = (
            *(field.column for field in columns),
            "extra_fields",
            "source_file",
            "line_number",
        )
        # no primary key: the ids inserted are unique already (valid rows only), and keeping its index cost
        # more than the checks themselves (14 s of inserts for 3M ids, measured); the lookup is a hash join
        self.con.execute("create temp table seen_ids (event_id varchar)")
        values = ",\n                ".join(f"{field.sql_value} as {field.column}" for field in columns)
        reasons = "\n                    ".join(field.sql_reason() for field in fields)
        paths = sql_strings(tuple(field.path for field in fields))
        text_paths = sql_strings(tuple(field.path for field in fields if field.text_position))
        occurred_at = next(field for field in fields if field.column == "occurred_at")
        new_paths, new_values = new_fields_sql(objects)
        earlier = "false"
        if warehouse_path is not None and warehouse_path.exists():
            self.con.execute(f"attach '{warehouse_path}' as warehouse (read_only)")
            has_events = self.con.execute(
                "select count(*) from duckdb_tables() where database_name = 'warehouse' "
                "and schema_name = 'raw_events' and table_name = 'events'"
            ).fetchone()[0]
            if has_events:
                earlier = "exists (select 1 from warehouse.raw_events.events as old where old.event_id = typed.event_id)"
        self.sql = f"""
        with parsed as (
            select
                source_file,
                line_number,
                raw_line,
                read_error,
                case when read_error is null and json_valid(raw_line) then json_type(raw_line) end as doc_type,
                -- every schema path at once, its JSON type and its text: no parse per field
                case when doc_type = 'OBJECT' then json_type(raw_line, {paths}) end as kinds,
                case when doc_type = 'OBJECT' then json_extract_string(raw_line, {text_paths}) end as texts,
                case when doc_type = 'OBJECT' then json_keys(raw_line, {key_paths(objects)}) end as keys
            from lines
        ),
        typed as (
            select
                *,
                {values},
                -- only a row with more keys than it has schema fields can hold a field the schema lacks:
                -- the filtering that names them is for those rows alone
                case when len(flatten(keys)) > list_count(kinds) then {new_paths} end as new_field_paths,
                case when len(new_field_paths) > 0
                    then json_merge_patch(raw_line, '{known_fields_patch(objects)}') end as kept
            from parsed
        ),
        checked as (
            select
                * exclude (kept),
                case when kept is not null then {new_values} end as extra_fields,
                case
                    when read_error is not null then read_error
                    when doc_type is null then 'malformed JSON'
                    when doc_type <> 'OBJECT' then 'not a JSON object: ' || lower(doc_type)
                    {reasons}
                    {time_window_reasons("occurred_at", occurred_at.text, until)}
                    when event_id in (select event_id from seen_ids) then 'duplicate event_id (loaded in an earlier file of this run)'
                    when {earlier} then 'duplicate event_id (already in the warehouse)'
                end as reason
            from typed
        ),
        first_lines as (
            -- a narrow aggregate rather than a window over the wide rows
            select event_id, min(line_number) as first_line from checked where reason is null group by event_id
        )
        select
            checked.* exclude (kinds, texts, keys, reason),
            case
                when reason is null and line_number > first_line
                    then 'duplicate event_id (earlier line of the same file)'
                else reason
            end as reason
        from checked left join first_lines using (event_id)
        """

    def after_batch(self) -> None:
        self.con.execute("insert into seen_ids select event_id from checked where reason is null")
        new_fields = self.con.execute(
            "select path, count(*) from (select unnest(new_field_paths) as path from checked where reason is null) "
            "group by path"
        ).fetchall()
        self.new_fields.update(dict(new_fields))

    def close(self) -> None:
        self.con.execute("detach database if exists warehouse")
        super().close()


# columns of a valid event that identify a person (the suppression list's identifier types)
IDENTIFIER_COLUMNS = {"anonymous_id": "anonymous_id", "user_id": "user_id", "email": "email"}


@dlt.resource(name="events", write_disposition="append", primary_key="event_id")
def events(
    landing_dir: Path,
    until: dt.date | None,
    warehouse_path: Path | None,
    counts: ReadCounts,
    suppressed: SuppressionList | None = None,
):
    """New event files -> events (valid rows) and quarantine (rejected rows with the reason)."""
    validator = EventValidator(warehouse_path, until)
    yield from load_new_files(
        "events", SUFFIXES, landing_dir, until, validator, "events", counts, suppressed, IDENTIFIER_COLUMNS
    )


@dlt.source(name="events")
def events_source(
    landing_dir: Path,
    until: dt.date | None,
    warehouse_path: Path | None,
    counts: ReadCounts,
    suppressed: SuppressionList | None = None,
):
    return events(landing_dir, until, warehouse_path, counts, suppressed)
