"""raw_events.events: the analytics events ingestion kept (one row per event)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import great_expectations.expectations as gxe

import ingestion
from expectations.suites import Suite, Table
from expectations.suites.common import key, loaded_within_run, not_empty_when_delivered

# The allowed values come from the event schema ingestion validates against, so the two cannot drift
# (the path of ingestion.events.SCHEMA_PATH, without importing dlt).
EVENT_SCHEMA = Path(ingestion.__file__).parent / "schemas" / "event.schema.json"


@cache
def allowed(field: str) -> tuple[str, ...]:
    return tuple(json.loads(EVENT_SCHEMA.read_text())["properties"][field]["enum"])


def events(table: Table) -> list:
    return [
        *key("event_id"),
        gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=list(allowed("event_type"))),
        gxe.ExpectColumnValuesToBeInSet(column="channel", value_set=list(allowed("channel"))),
        gxe.ExpectColumnValuesToNotBeNull(column="anonymous_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="occurred_at"),
        loaded_within_run(table, "occurred_at"),
        *not_empty_when_delivered(table),
    ]


SUITES = (Suite("raw_events.events", "raw", events, optional=True, incremental=True),)
