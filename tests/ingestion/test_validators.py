"""Row checks of the file sources: each bad row is quarantined with a reason that says what is wrong."""

import json

import jsonschema
import pyarrow as pa
import pytest

from ingestion.catalog import COLUMNS as CATALOG_COLUMNS
from ingestion.catalog import ProductValidator
from ingestion.events import SCHEMA_PATH, EventValidator
from ingestion.logs import LogValidator

GOOD_EVENT = {
    "event_id": "e1",
    "event_type": "product_view",
    "occurred_at": "2026-01-03T14:22:05.123+01:00",
    "anonymous_id": "a1",
    "user_id": None,
    "email": None,
    "session_id": "s1",
    "channel": "web",
    "device": {"type": "desktop", "os": "linux", "browser": "firefox"},
    "page": {"url": "https://shop.example.com/p/P1", "title": "P1", "referrer": None},
    "product": {"product_id": "P1", "price": 9.5, "currency": "EUR", "quantity": 2},
    "order_id": None,
    "properties": {"q": "x"},
}


def lines(*texts: str, errors=None) -> pa.Table:
    return pa.table(
        {
            "source_file": ["events/2026-01-03/e.jsonl"] * len(texts),
            "line_number": list(range(1, len(texts) + 1)),
            "raw_line": list(texts),
            "read_error": errors or [None] * len(texts),
        }
    )


def event(**changes) -> str:
    return json.dumps({**GOOD_EVENT, **changes})


BAD_EVENTS = {
    "malformed JSON": '{"event_id": "e2", "event_type"',
    "not a JSON object: array": "[1, 2]",
    "missing required field event_id": json.dumps({k: v for k, v in GOOD_EVENT.items() if k != "event_id"}),
    "missing required field anonymous_id": event(anonymous_id=""),
    "unknown event_type 'pageview_v2'": event(event_type="pageview_v2"),
    "unknown channel 'fax'": event(channel="fax"),
    "invalid timestamp in occurred_at (ISO-8601 with UTC offset expected): 'yesterday'": event(
        occurred_at="yesterday"
    ),
    "invalid timestamp in occurred_at (ISO-8601 with UTC offset expected): '2026-01-03T14:22:05'": event(
        occurred_at="2026-01-03T14:22:05"
    ),
    "field product_price: expected number, got varchar": event(
        product={"product_id": "P1", "price": "cheap"}
    ),
    "field anonymous_id: expected string, got ubigint": event(anonymous_id=123),
}


@pytest.mark.parametrize("reason", list(BAD_EVENTS))
def test_bad_event_is_quarantined_with_its_reason(reason):
    valid, quarantined = EventValidator(None)(lines(event(event_id="ok"), BAD_EVENTS[reason]))
    assert valid.column("event_id").to_pylist() == ["ok"]
    assert quarantined.to_pylist() == [
        {
            "source_file": "events/2026-01-03/e.jsonl",
            "line_number": 2,
            "raw_line": BAD_EVENTS[reason],
            "reason": reason,
        }
    ]


# Malformed JSON never reaches a schema; date-time formats need jsonschema's optional format extras.
SCHEMA_CASES = [reason for reason in BAD_EVENTS if reason != "malformed JSON" and "timestamp" not in reason]


@pytest.mark.parametrize("reason", SCHEMA_CASES)
def test_the_json_schema_rejects_what_the_validator_rejects(reason):
    """The SQL checks are compiled from the schema file: both must agree on every bad case."""
    schema = json.loads(SCHEMA_PATH.read_text())
    checker = jsonschema.Draft202012Validator(schema)
    assert list(checker.iter_errors(json.loads(BAD_EVENTS[reason]))), reason
    assert not list(checker.iter_errors(GOOD_EVENT))


def test_valid_event_is_flattened_and_typed():
    valid, quarantined = EventValidator(None)(lines(event()))
    assert quarantined.num_rows == 0
    row = valid.to_pylist()[0]
    assert row["occurred_at"].isoformat() == "2026-01-03T13:22:05.123000+00:00"
    assert (row["product_id"], row["product_price"], row["product_quantity"]) == ("P1", 9.5, 2)
    assert row["device_type"] == "desktop" and json.loads(row["properties"]) == {"q": "x"}


def test_new_fields_are_named_only_where_a_row_has_them():
    """Fields the schema lacks are looked for only in rows with more keys than schema fields: a repeated
    known key (more keys, nothing new) and absent or null objects (fewer) must not confuse that."""
    repeated_key = event(event_id="e2").replace('"channel": "web"', '"channel": "web", "channel": "ios"')
    absent_objects = {key: value for key, value in GOOD_EVENT.items() if key not in ("device", "page")}
    drifted = {**absent_objects, "event_id": "e3", "tier": 1, "product": {**GOOD_EVENT["product"], "x": 0}}
    validator = EventValidator(None)
    valid, quarantined = validator(
        lines(
            event(),
            repeated_key,
            json.dumps(drifted),
            event(event_id="e4", device=None, page=None, product=None, properties=None),
            event(event_id="e5", device={"type": "tv", "os": None, "browser": None, "hdr": True}),
        )
    )
    assert quarantined.num_rows == 0
    extra = {row["event_id"]: row["extra_fields"] for row in valid.to_pylist()}
    assert extra == {
        "e1": None,
        "e2": None,
        "e3": '{"tier":1,"product":{"x":0}}',
        "e4": None,
        "e5": '{"device":{"hdr":true}}',
    }
    assert validator.new_fields == {"tier": 1, "product.x": 1, "device.hdr": 1}
    # a JSON null object is kept as the text 'null', as before
    assert valid.to_pylist()[3]["properties"] == "null"


def test_duplicate_event_ids_keep_the_first_copy_within_and_across_batches():
    validator = EventValidator(None)
    valid, quarantined = validator(lines(event(), event(), event(event_id="e2")))
    assert valid.column("event_id").to_pylist() == ["e1", "e2"]
    assert quarantined.column("reason").to_pylist() == ["duplicate event_id (earlier line of the same file)"]
    valid, quarantined = validator(lines(event(event_id="e2"), event(event_id="e3")))
    assert valid.column("event_id").to_pylist() == ["e3"]
    assert quarantined.column("reason").to_pylist() == [
        "duplicate event_id (loaded in an earlier file of this run)"
    ]


def test_read_errors_win_over_parsing():
    _, quarantined = EventValidator(None)(lines(event(), errors=["invalid UTF-8 at byte 3"]))
    assert quarantined.column("reason").to_pylist() == ["invalid UTF-8 at byte 3"]


LOG_OK = '203.0.113.7 - - [03/Jan/2026:14:22:05 +0100] "GET /magazine/cooking/pasta HTTP/1.1" 200 5123 "https://www.example.com/" "Mozilla/5.0 (X11)" "c1"'


def test_log_lines_parse_or_quarantine():
    no_cookie = LOG_OK.replace('"c1"', '"-"').replace("5123", "-")
    bad_time = LOG_OK.replace("03/Jan/2026", "33/Foo/2026")
    valid, quarantined = LogValidator()(lines(LOG_OK, no_cookie, LOG_OK[:40], bad_time))
    rows = valid.to_pylist()
    assert rows[0]["requested_at"].isoformat() == "2026-01-03T13:22:05+00:00"
    assert (rows[0]["url"], rows[0]["status_code"], rows[0]["anonymous_id"]) == (
        "/magazine/cooking/pasta",
        200,
        "c1",
    )
    assert (rows[1]["anonymous_id"], rows[1]["response_bytes"]) == (None, None)
    assert quarantined.column("reason").to_pylist() == [
        "not a Combined Log Format line with a trailing cookie field",
        "invalid timestamp: '33/Foo/2026:14:22:05 +0100'",
    ]


def products(*rows):
    table = {name: [row.get(name) for row in rows] for name in CATALOG_COLUMNS}
    return pa.table(
        {
            **table,
            "source_file": ["catalog/products.csv"] * len(rows),
            "line_number": list(range(1, len(rows) + 1)),
            "raw_line": ["…"] * len(rows),
            "read_error": [None] * len(rows),
        }
    )


def test_catalog_rows_are_checked():
    good = {"product_id": "P1", "title": "T", "price": "9.50", "currency": "eur", "launched_at": "2026-01-01"}
    valid, quarantined = ProductValidator()(
        products(good, {**good, "product_id": " "}, {**good, "product_id": "P2", "price": "abc"},
                 {**good, "product_id": "P3", "launched_at": "soon"}, good)
    )  # fmt: skip
    assert valid.to_pylist()[0]["price"] == 9.5 and valid.to_pylist()[0]["currency"] == "EUR"
    assert valid.num_rows == 1
    assert quarantined.column("reason").to_pylist() == [
        "missing required field product_id",
        "price must be a number from 0 to 1000000000, got 'abc'",
        "invalid launched_at date: 'soon'",
        "duplicate product_id (earlier row of the same file)",
    ]
