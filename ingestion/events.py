"""Analytics events: JSON lines (optionally gzip) under `events/YYYY-MM-DD/` -> `raw_events`.

The checks come from the event JSON Schema in `schemas/event.schema.json`: required fields, types, enums
and timestamp format are compiled into one DuckDB query, so the schema file stays the single definition
of a valid event. A row failing any check, a malformed line and a repeated `event_id` (within the batch,
across files of the run, or against what the warehouse already holds) go to `raw_events.quarantine`
with the reason; everything else lands in `raw_events.events`, nested objects flattened to columns.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import dlt

from ingestion.files import LineValidator, load_new_files

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
    position: int  # 1-based index into `vals`, the row's values extracted in one JSON parse
    column: str
    json_type: str
    required: bool
    enum: tuple[str, ...] | None
    is_datetime: bool

    @property
    def json(self) -> str:
        return f"vals[{self.position}]"

    @property
    def text(self) -> str:
        return f"({self.json} ->> '$')"

    @property
    def sql_value(self) -> str:
        if self.is_datetime:
            return f"try_cast({self.text} as timestamptz)"
        if self.json_type == "object":
            return f"{self.json}::varchar"
        return f"try_cast({self.text} as {JSON_TYPES[self.json_type][1]})"

    def sql_reason(self) -> str:
        """A SQL CASE branch that names what is wrong with this field, or nothing."""
        kind = f"json_type({self.json})"
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
            fields += _fields(spec["properties"], set(spec.get("required", [])), path, name)
            continue
        enum = tuple(spec["enum"]) if "enum" in spec else None
        fields.append(
            Field(path, 0, column, json_type, name in required, enum, spec.get("format") == "date-time")
        )
    return fields


@cache
def event_fields() -> tuple[Field, ...]:
    schema = json.loads(SCHEMA_PATH.read_text())
    fields = _fields(schema["properties"], set(schema.get("required", [])))
    return tuple(replace(field, position=index) for index, field in enumerate(fields, start=1))


class EventValidator(LineValidator):
    """Schema checks plus event_id de-duplication against earlier batches and the warehouse."""

    keys = ("event_id",)

    def __init__(self, warehouse_path: Path | None) -> None:
        super().__init__()
        fields = event_fields()
        self.data_columns = (*(field.column for field in fields), "source_file", "line_number")
        self.con.execute("create temp table seen_ids (event_id varchar primary key)")
        values = ",\n                ".join(f"{field.sql_value} as {field.column}" for field in fields)
        reasons = "\n                    ".join(field.sql_reason() for field in fields)
        paths = "[" + ", ".join(f"'{field.path}'" for field in fields) + "]"
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
                -- one parse per line: every schema path extracted at once
                case when doc_type = 'OBJECT' then json_extract(raw_line, {paths}) end as vals
            from lines
        ),
        typed as (
            select
                *,
                {values}
            from parsed
        ),
        checked as (
            select
                *,
                case
                    when read_error is not null then read_error
                    when doc_type is null then 'malformed JSON'
                    when doc_type <> 'OBJECT' then 'not a JSON object: ' || lower(doc_type)
                    {reasons}
                    when event_id in (select event_id from seen_ids) then 'duplicate event_id (loaded in an earlier file of this run)'
                    when {earlier} then 'duplicate event_id (already in the warehouse)'
                end as reason
            from typed
        ),
        first_copy as (
            select
                * exclude (reason),
                case
                    when reason is null and row_number() over (
                        partition by event_id, reason is null order by source_file, line_number
                    ) > 1 then 'duplicate event_id (earlier line of the same file)'
                    else reason
                end as reason
            from checked
        )
        select * from first_copy
        """

    def after_batch(self) -> None:
        self.con.execute("insert into seen_ids select event_id from checked where reason is null")

    def close(self) -> None:
        self.con.execute("detach database if exists warehouse")
        super().close()


@dlt.resource(name="events", write_disposition="append", primary_key="event_id")
def events(landing_dir: Path, until: dt.date | None, warehouse_path: Path | None, counts: dict[str, int]):
    """New event files -> events (valid rows) and quarantine (rejected rows with the reason)."""
    yield from load_new_files("events", SUFFIXES, landing_dir, until, EventValidator(warehouse_path), counts)


@dlt.source(name="events")
def events_source(
    landing_dir: Path, until: dt.date | None, warehouse_path: Path | None, counts: dict[str, int]
):
    return events(landing_dir, until, warehouse_path, counts)
