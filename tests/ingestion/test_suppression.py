"""The suppression list: hashed identifiers only, and ingestion drops (and counts) the rows it names."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import suppression
from ingestion.runner import ingest_source
from ingestion.suppression import SuppressionList
from pwh.warehouse import connect

RUN_DATE = dt.date(2026, 1, 2)
EMAIL, COOKIE, OTHER = "Ann@Example.com", "cookie-ann-0001", "cookie-bob-0002"


def test_the_list_keeps_hashes_of_normalised_values_only(tmp_path):
    assert not SuppressionList.load(tmp_path)  # no file: nothing suppressed
    added = suppression.add(tmp_path, [("email", f"  {EMAIL} "), ("anonymous_id", COOKIE)], "erasure-1")
    assert added == 2 and suppression.add(tmp_path, [("email", EMAIL.lower())], "erasure-2") == 0
    path = suppression.suppression_path(tmp_path)
    content = path.read_bytes()
    assert b"ann@" not in content.lower() and COOKIE.encode() not in content
    rows = pq.read_table(path).to_pylist()
    assert {row["sha256"] for row in rows} == {
        hashlib.sha256(b"ann@example.com").hexdigest(),
        hashlib.sha256(COOKIE.encode()).hexdigest(),
    }
    listed = SuppressionList.load(tmp_path)
    assert listed.has("email", "ANN@example.com ") and not listed.has("anonymous_id", EMAIL)


def test_split_by_columns_and_by_the_text_of_quarantined_lines(tmp_path):
    suppression.add(tmp_path, [("email", EMAIL), ("anonymous_id", COOKIE), ("customer_id", 7)], "e")
    listed = SuppressionList.load(tmp_path)
    rows = pa.table(
        {"anonymous_id": [COOKIE, OTHER, None, OTHER], "email": [None, None, None, " ann@example.COM"]}
    )
    kept, dropped = listed.split(rows, {"anonymous_id": "anonymous_id", "email": "email"})
    assert dropped == 2 and kept.column("anonymous_id").to_pylist() == [OTHER, None]
    lines = pa.table(
        {"raw_line": [f'{{"anonymous_id": "{COOKIE}", ', "garbage", f"mail {EMAIL}.", '{"n": 7}']}
    )
    kept, dropped = listed.split(lines, {}, text_column="raw_line")
    # numeric ids are matched in their columns only: a 7 in free text could be anything
    assert dropped == 2 and kept.column("raw_line").to_pylist() == ["garbage", '{"n": 7}']


def write_landing(landing, day: dt.date) -> None:
    events = landing / "events" / day.isoformat()
    events.mkdir(parents=True)
    event = {
        "event_type": "page_view", "occurred_at": f"{day}T10:00:00+00:00", "session_id": "s", "channel": "web",
        "device": {"type": "desktop", "os": "Linux", "browser": "Firefox"},
        "page": {"url": "https://shop.example.com/", "title": "Home", "referrer": None},
    }  # fmt: skip
    lines = [
        {**event, "event_id": "e1", "anonymous_id": COOKIE},
        {**event, "event_id": "e2", "anonymous_id": OTHER, "email": EMAIL.upper()},
        {**event, "event_id": "e3", "anonymous_id": OTHER},
    ]
    broken = '{"event_id": "e4", "anonymous_id": "' + COOKIE + '"'  # quarantined, and it is theirs
    (events / "a.jsonl").write_text("\n".join([*map(json.dumps, lines), broken, "not json"]) + "\n")
    logs = landing / "logs" / day.isoformat()
    logs.mkdir(parents=True)
    line = '1.2.3.4 - - [02/Jan/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla" "{}"\n'
    (logs / "a.log").write_text(line.format(COOKIE) + line.format(OTHER))
    crm = sqlite3.connect(landing / "crm.sqlite")
    with crm:
        crm.execute(
            "create table customers (customer_id integer primary key, email text, first_name text, "
            "updated_at timestamp, is_deleted boolean)"
        )
        crm.execute(
            "create table orders (order_id integer primary key, customer_id integer, total_amount numeric, "
            "updated_at timestamp)"
        )
        crm.execute("create table order_items (order_id integer, product_id text, quantity integer)")
        stamp = f"{day} 09:00:00"
        crm.executemany(
            "insert into customers values (?, ?, ?, ?, 0)",
            [
                (7, "someone@example.org", "Ann", stamp),
                (8, f" {EMAIL} ", "Ann", stamp),
                (9, "bob@x.org", "Bob", stamp),
            ],
        )
        crm.executemany(
            "insert into orders values (?, ?, 10, ?)", [(70, 7, stamp), (80, 8, stamp), (90, 9, stamp)]
        )
        crm.executemany("insert into order_items values (?, 'P1', 1)", [(70,), (80,), (90,)])
    crm.close()


def test_ingestion_drops_and_counts_suppressed_rows(settings):
    write_landing(settings.landing_dir, RUN_DATE)
    # customer 7 by id; customer 8 by email (a new record of a forgotten person); their orders and items
    suppression.add(settings.data_dir, [("email", EMAIL), ("anonymous_id", COOKIE), ("customer_id", 7)], "e")
    audit = {}
    for source in ("events", "logs", "crm"):
        for row in ingest_source(source, settings, RUN_DATE, "run-1"):
            audit[row.table_name] = row
            assert row.is_balanced, row
    suppressed = {table: row.rows_suppressed for table, row in audit.items()}
    assert suppressed == {"events": 3, "page_visits": 1, "customers": 2, "orders": 2, "order_items": 2}
    assert audit["events"].rows_quarantined == 1  # "not json": no one's
    with connect(settings.warehouse_path, read_only=True) as con:
        assert con.execute("select list(event_id order by event_id) from raw_events.events").fetchone()[
            0
        ] == ["e3"]
        assert con.execute("select list(anonymous_id) from raw_logs.page_visits").fetchone()[0] == [OTHER]
        assert con.execute("select list(customer_id) from raw_crm.customers").fetchone()[0] == [9]
        assert con.execute("select list(order_id) from raw_crm.orders").fetchone()[0] == [90]
        assert con.execute("select list(order_id) from raw_crm.order_items").fetchone()[0] == [90]
        columns = con.execute(
            "select sum(rows_suppressed), sum(rows_read - rows_loaded - rows_quarantined) from audit.load_audit"
        ).fetchone()
    assert columns == (10, 10)
