"""Small hand-made raw warehouses for the raw gate's tests: a few rows per table, shaped like ingestion's.

Only the columns the raw suites check (plus dlt's `_dlt_load_id`) are created. Run `run-1` of 2024-03-02
loaded everything with load id `load-1`; `load-0` marks rows an earlier run loaded.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from ingestion.runner import AUDIT_DDL

RUN_ID = "run-1"
RUN_DATE = dt.date(2024, 3, 2)
SOURCES = ("crm", "events", "logs", "catalog")

DDL = {
    "crm": """
        create schema raw_crm;
        create table raw_crm.customers (customer_id bigint, email varchar, _dlt_load_id varchar);
        insert into raw_crm.customers values (1, 'a@example.com', 'load-1'), (2, 'b@example.com', 'load-1');
        create table raw_crm.orders (
            order_id bigint, customer_id bigint, total_amount decimal(38, 9), _dlt_load_id varchar
        );
        insert into raw_crm.orders values (101, 1, 50, 'load-1'), (102, 2, 0, 'load-1');
    """,
    "events": """
        create schema raw_events;
        create table raw_events.events (
            event_id varchar, event_type varchar, occurred_at timestamptz, anonymous_id varchar,
            channel varchar, _dlt_load_id varchar
        );
        insert into raw_events.events values
            ('e1', 'page_view', '2024-03-01 08:00:00+00', 'a1', 'web', 'load-1'),
            ('e2', 'purchase', '2024-03-02 23:30:00-02', 'a1', 'ios', 'load-1'),
            ('e3', 'login', '2024-02-01 07:00:00+00', 'a2', 'android', 'load-0');
    """,
    "logs": """
        create schema raw_logs;
        create table raw_logs.page_visits (
            requested_at timestamptz, url varchar, status_code integer, _dlt_load_id varchar
        );
        insert into raw_logs.page_visits values
            ('2024-03-01 09:00:00+01', '/magazine/cooking', 200, 'load-1'),
            ('2024-03-01 08:20:00+00', '/', 301, 'load-1');
    """,
    "catalog": """
        create schema raw_catalog;
        create table raw_catalog.products (product_id varchar, price double, _dlt_load_id varchar);
        insert into raw_catalog.products values ('P1', 25.0, 'load-1'), ('P2', 0.0, 'load-1');
    """,
}

# source -> (table, files read, rows read) of run-1
AUDIT = {
    "crm": [("customers", 0, 2), ("orders", 0, 2), ("order_items", 0, 0)],
    "events": [("events", 1, 2)],
    "logs": [("page_visits", 1, 2)],
    "catalog": [("products", 1, 2)],
}


def make_raw_warehouse(
    path: Path, sources: tuple[str, ...] = SOURCES, audited: tuple[str, ...] | None = None
) -> Path:
    """A raw warehouse holding the tables of `sources`; the load audit has rows for `audited` (default:
    the same sources; the other sources get audit rows that read nothing, as ingestion writes them)."""
    audited = sources if audited is None else audited
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(AUDIT_DDL)  # the load audit as ingestion creates it
        for source in sources:
            con.execute(DDL[source])
        for source in SOURCES:
            delivered = source in audited
            for table, files, rows in AUDIT[source]:
                con.execute(
                    "insert into audit.load_audit values (?, ?, ?, ?, ?, ?, ?, ?, 0, now(), now(), null, 0)",
                    [
                        RUN_ID, RUN_DATE, source, table, "load-1" if delivered else "",
                        files if delivered else 0, rows if delivered else 0, rows if delivered else 0,
                    ],
                )  # fmt: skip
    return path


def execute(path: Path, sql: str) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(sql)
