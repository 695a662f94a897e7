"""Fixtures for the dbt project tests: a small raw warehouse shaped like the ingestion layer's output.

`create_raw_warehouse` writes the raw schemas (raw_crm, raw_events, raw_logs, raw_catalog, audit) into a
DuckDB file with a handful of hand-made rows; `sources=` limits it to some sources, like a landing zone
that holds only those. The rows are chosen so that the expected staging and mart
values can be worked out by hand (see the comments next to them and the assertions in
test_dbt_project.py). It is also handy for local development:

    python -c "import sys; sys.path.insert(0, 'tests/dbt'); \
import conftest; conftest.create_raw_warehouse('/tmp/dbtdev/wh.duckdb')"
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

# dlt adds the load id to every table it loads (ingestion/.dlt/config.toml turns it on for Arrow tables;
# it does not add `_dlt_id` there, so the dbt project must not rely on that one).
_DLT_COLUMNS = "_dlt_load_id varchar"

SOURCES = ("crm", "events", "logs", "catalog")

# source -> its raw tables, as ingestion creates them. audit.load_audit is ingestion's own bookkeeping.
RAW_DDL = {
    "crm": f"""
create schema if not exists raw_crm;
create table raw_crm.customers (
    customer_id bigint, email varchar, first_name varchar, last_name varchar, phone varchar,
    birth_date date, gender varchar, street_address varchar, city varchar, postcode varchar,
    country varchar, marketing_opt_in boolean, created_at timestamptz, updated_at timestamptz,
    is_deleted boolean, {_DLT_COLUMNS}
);
create table raw_crm.orders (
    order_id bigint, customer_id bigint, ordered_at timestamptz, status varchar, currency varchar,
    total_amount decimal(38, 9), updated_at timestamptz, {_DLT_COLUMNS}
);
create table raw_crm.order_items (
    order_id bigint, product_id varchar, quantity bigint, unit_price decimal(38, 9), {_DLT_COLUMNS}
);
""",
    "events": f"""
create schema if not exists raw_events;
create table raw_events.events (
    event_id varchar, event_type varchar, occurred_at timestamptz, anonymous_id varchar,
    user_id varchar, email varchar, session_id varchar, channel varchar, device_type varchar,
    device_os varchar, device_browser varchar, page_url varchar, page_title varchar,
    page_referrer varchar, product_id varchar, product_price double, product_currency varchar,
    product_quantity bigint, order_id varchar, properties varchar, source_file varchar,
    line_number bigint, {_DLT_COLUMNS}
);
create table raw_events.quarantine (
    source_file varchar, line_number bigint, raw_line varchar, reason varchar, {_DLT_COLUMNS}
);
""",
    "logs": f"""
create schema if not exists raw_logs;
create table raw_logs.page_visits (
    client_ip varchar, requested_at timestamptz, http_method varchar, url varchar,
    http_protocol varchar, status_code integer, response_bytes bigint, referrer varchar,
    user_agent varchar, anonymous_id varchar, source_file varchar, line_number bigint, {_DLT_COLUMNS}
);
create table raw_logs.quarantine (
    source_file varchar, line_number bigint, raw_line varchar, reason varchar, {_DLT_COLUMNS}
);
""",
    "catalog": f"""
create schema if not exists raw_catalog;
create table raw_catalog.products (
    product_id varchar, title varchar, description varchar, category varchar, brand varchar,
    price double, currency varchar, tags varchar, launched_at date, {_DLT_COLUMNS}
);
create table raw_catalog.quarantine (
    source_file varchar, line_number bigint, raw_line varchar, reason varchar, {_DLT_COLUMNS}
);
""",
}

# as ingestion/runner.py creates it
AUDIT_DDL = """
create schema if not exists audit;
create table audit.load_audit (
    run_id varchar not null, run_date date not null, source varchar not null, table_name varchar not null,
    load_ids varchar, files_read bigint, rows_read bigint not null, rows_loaded bigint not null,
    rows_quarantined bigint not null, started_at timestamptz not null, finished_at timestamptz not null,
    new_fields varchar, rows_suppressed bigint default 0
);
"""

# fmt: off  (one fixture row per line reads better than ruff's one value per line)
# customer_id, email, first_name, last_name, phone, birth_date, gender, street_address, city,
# postcode, country, marketing_opt_in, created_at, updated_at, is_deleted
CUSTOMERS = [
    (
        1,
        "  Alice.Smith@Example.COM ",
        "  alice ",
        "SMITH ",
        "+44 20 7946 0958",
        "1990-01-02",
        "F",
        " 1 High Street ",
        "London",
        "sw1a 1aa",
        "GB",
        True,
        "2024-01-01 10:00:00+02:00",
        "2024-02-01 12:00:00+00:00",
        False,
    ),
    (
        2,
        "bob@example",
        "bob",
        "o'neil-jones",
        "020-7946-0958",
        "1985-06-30",
        "male",
        "2 Low Road",
        "Leeds",
        "ls1 4ap",
        "United Kingdom",
        False,
        "2024-01-02 09:00:00+00:00",
        "2024-01-02 09:00:00+00:00",
        False,
    ),
    (
        3,
        "CAROL@EXAMPLE.ORG",
        "carol  ann",
        "de la cruz",
        "00442079460958",
        None,
        None,
        None,
        None,
        None,
        "uk",
        None,
        "2024-01-03 09:00:00+00:00",
        "2024-01-03 09:00:00+00:00",
        False,
    ),
    (
        4,
        "dave@example.com",
        "Dave",
        "Miller",
        "(555) 123-4567",
        "1979-12-24",
        "M",
        "1 Main St",
        "Springfield",
        "62701",
        "US",
        True,
        "2024-01-04 09:00:00-05:00",
        "2024-01-04 09:00:00-05:00",
        False,
    ),
    (
        5,
        "erik@example.se",
        "erik",
        "andersson",
        "070-123 45 67",
        None,
        "f",
        "Storgatan 1",
        "Stockholm",
        "111 22",
        "Sweden",
        True,
        "2024-01-05 09:00:00+01:00",
        "2024-01-05 09:00:00+01:00",
        False,
    ),
    (
        6,
        None,
        None,
        "  ",
        "n/a",
        None,
        "",
        None,
        None,
        None,
        None,
        False,
        "2024-01-06 09:00:00+00:00",
        "2024-01-07 09:00:00+00:00",
        True,
    ),
]

# order_id, customer_id, ordered_at, status, currency, total_amount, updated_at
# Reporting amounts with the default rates (per 1 EUR: USD 1.08, GBP 0.86, SEK 11.2): all 50/100/10/50 EUR.
ORDERS = [
    (101, 1, "2024-03-01 09:00:00+00:00", "paid", "EUR", "50.00", "2024-03-01 09:00:00+00:00"),
    (102, 4, "2024-03-01 20:30:00-05:00", "shipped", "USD", "108.00", "2024-03-02 10:00:00+00:00"),
    (103, 5, "2024-03-01 10:00:00+01:00", "delivered", "SEK", "112.00", "2024-03-05 10:00:00+00:00"),
    (104, 2, "2024-03-01 12:00:00+00:00", "cancelled", "GBP", "43.00", "2024-03-01 13:00:00+00:00"),
]

# order_id, product_id, quantity, unit_price
ORDER_ITEMS = [
    (101, "P1", 2, "25.00"),
    (102, "P2", 2, "54.00"),
    (103, "P3", 4, "28.00"),
    (104, "P1", 1, "43.00"),
]

_EVENT_KEYS = (
    "event_id",
    "event_type",
    "occurred_at",
    "anonymous_id",
    "user_id",
    "email",
    "session_id",
    "channel",
    "device_type",
    "device_os",
    "device_browser",
    "page_url",
    "page_title",
    "page_referrer",
    "product_id",
    "product_price",
    "product_currency",
    "product_quantity",
    "order_id",
    "properties",
)


def _event(event_id: str, event_type: str, occurred_at: str, anonymous_id: str, channel: str, **fields):
    row = {key: None for key in _EVENT_KEYS}
    row.update(
        event_id=event_id,
        event_type=event_type,
        occurred_at=occurred_at,
        anonymous_id=anonymous_id,
        channel=channel,
        session_id=f"s-{anonymous_id}",
        properties="{}",
    )
    row.update(fields)
    return tuple(row[key] for key in _EVENT_KEYS)


# Hand-computed daily_activity (reporting currency EUR, UTC dates):
#   2024-03-01 web:     6 events, 3 anonymous ids, 2 users, 2 page views, 1 product view, 1 add to cart,
#                       2 purchases, revenue 2 x 25 EUR + 1 x 43 GBP (= 50 EUR) = 100.00
#   2024-03-01 android: 1 event (login), 1 anonymous id, 1 user
#   2024-03-02 ios:     2 events (e7 is 23:30 at -02:00), 1 anonymous id, 1 user, 1 page view,
#                       1 purchase, revenue 2 x 54 USD (= 100 EUR) = 100.00
#   2024-03-02 server:  1 event (search)
EVENTS = [
    _event(
        "e1",
        "page_view",
        "2024-03-01 08:00:00+00:00",
        "a1",
        "web",
        page_url="https://shop.example.com/",
        device_type="desktop",
    ),
    _event(
        "e2",
        "product_view",
        "2024-03-01 08:01:00+00:00",
        "a1",
        "web",
        user_id="1",
        email=" Alice.Smith@Example.COM",
        product_id="P1",
        product_price=25.0,
        product_currency="EUR",
    ),
    _event(
        "e3",
        "add_to_cart",
        "2024-03-01 08:02:00+00:00",
        "a1",
        "web",
        user_id="1",
        product_id="P1",
        product_price=25.0,
        product_currency="EUR",
        product_quantity=2,
    ),
    _event(
        "e4",
        "purchase",
        "2024-03-01 08:05:00+00:00",
        "a1",
        "web",
        user_id="1",
        product_id="P1",
        product_price=25.0,
        product_currency="EUR",
        product_quantity=2,
        order_id="101",
    ),
    _event(
        "e5", "page_view", "2024-03-01 10:00:00+01:00", "a2", "web", page_url="https://shop.example.com/x"
    ),
    _event(
        "e6",
        "purchase",
        "2024-03-01 12:00:00+00:00",
        "a3",
        "web",
        user_id="2",
        product_id="P1",
        product_price=43.0,
        product_currency="GBP",
        product_quantity=1,
        order_id="104",
    ),
    _event("e7", "page_view", "2024-03-01 23:30:00-02:00", "a4", "ios"),
    _event(
        "e8",
        "purchase",
        "2024-03-02 01:45:00+00:00",
        "a4",
        "ios",
        user_id="4",
        email="DAVE@example.com",
        product_id="P2",
        product_price=54.0,
        product_currency="USD",
        product_quantity=2,
        order_id="102",
    ),
    _event("e9", "login", "2024-03-01 07:00:00+00:00", "a5", "android", user_id="5"),
    _event("e10", "search", "2024-03-02 07:00:00+00:00", "a6", "server", properties='{"query": "pasta"}'),
]

# client_ip, requested_at, http_method, url, http_protocol, status_code, response_bytes, referrer,
# user_agent, anonymous_id
PAGE_VISITS = [
    (
        "203.0.113.5",
        "2024-03-01 09:00:00+01:00",
        "GET",
        "/Magazine/Cooking/Easy-Pasta/?utm_source=mail",
        "HTTP/1.1",
        200,
        5120,
        "-",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
        "a1",
    ),
    (
        "66.249.66.1",
        "2024-03-01 08:10:00+00:00",
        "GET",
        "/magazine//travel/lisbon#top",
        "HTTP/1.1",
        200,
        None,
        "-",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        None,
    ),
    ("198.51.100.7", "2024-03-01 08:20:00+00:00", "HEAD", "/", "HTTP/1.1", 301, 0, "-", "curl/8.4.0", None),
]

# product_id, title, description, category, brand, price, currency, tags, launched_at
PRODUCTS = [
    (
        "P1",
        "Pasta Maker",
        "Makes pasta.",
        "Kitchen",
        "Acme",
        25.0,
        "EUR",
        " Cooking | Italian||Kitchen ",
        "2023-05-01",
    ),
    (
        "P2",
        "Trail Shoes",
        "Shoes for trails.",
        "Outdoor",
        "Stride",
        54.0,
        "usd",
        "Running|OUTDOOR",
        "2023-06-01",
    ),
    ("P3", "Coffee Beans", "Dark roast.", "Kitchen", "Bean Co", 112.0, "SEK", None, None),
]

# run_id, run_date, source, table_name, load_ids, files_read, rows_read, rows_loaded, rows_quarantined,
# started_at, finished_at (new_fields and rows_suppressed are added on insert)
LOAD_AUDIT = [
    (
        "r1",
        "2024-03-02",
        "crm",
        "customers",
        "load-1",
        0,
        6,
        6,
        0,
        "2024-03-02 02:00:00+00:00",
        "2024-03-02 02:00:05+00:00",
    ),
    (
        "r1",
        "2024-03-02",
        "crm",
        "orders",
        "load-1",
        0,
        4,
        4,
        0,
        "2024-03-02 02:00:00+00:00",
        "2024-03-02 02:00:03+00:00",
    ),
    (
        "r1",
        "2024-03-02",
        "crm",
        "order_items",
        "load-1",
        0,
        4,
        4,
        0,
        "2024-03-02 02:00:00+00:00",
        "2024-03-02 02:00:03+00:00",
    ),
    (
        "r1",
        "2024-03-02",
        "events",
        "events",
        "load-1",
        1,
        11,
        10,
        1,
        "2024-03-02 02:00:05+00:00",
        "2024-03-02 02:00:15+00:00",
    ),
    (
        "r1",
        "2024-03-02",
        "logs",
        "page_visits",
        "load-1",
        1,
        4,
        3,
        1,
        "2024-03-02 02:00:15+00:00",
        "2024-03-02 02:00:20+00:00",
    ),
    (
        "r1",
        "2024-03-02",
        "catalog",
        "products",
        "load-1",
        1,
        4,
        3,
        1,
        "2024-03-02 02:00:20+00:00",
        "2024-03-02 02:00:21+00:00",
    ),
]

UNBALANCED_AUDIT_ROW = (
    "r2",
    "2024-03-03",
    "events",
    "events",
    "load-2",
    1,
    10,
    7,
    1,
    "2024-03-03 02:00:00+00:00",
    "2024-03-03 02:00:09+00:00",
)


# fmt: on


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple], dlt: bool = True) -> None:
    if not rows:
        return
    width = len(rows[0])
    values = ", ".join(["?"] * width)
    if dlt:
        values += ", 'load-1'"
    con.executemany(f"insert into {table} values ({values})", rows)


def create_raw_warehouse(path: str | Path, sources: tuple[str, ...] = SOURCES) -> Path:
    """Create a DuckDB file at `path` holding the fixture rows above.

    Only the raw tables of `sources` are created (and only their audit rows written), as after an ingestion
    run over a landing zone that holds just those sources; audit.load_audit always exists.
    """
    unknown = set(sources) - set(SOURCES)
    assert not unknown, f"unknown sources {unknown}"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    with duckdb.connect(str(path)) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(AUDIT_DDL)
        for source in sources:
            con.execute(RAW_DDL[source])
        if "crm" in sources:
            _insert(con, "raw_crm.customers", CUSTOMERS)
            _insert(con, "raw_crm.orders", ORDERS)
            _insert(con, "raw_crm.order_items", ORDER_ITEMS)
        if "events" in sources:
            _insert(
                con,
                "raw_events.events",
                [row + ("events/2024-03-01/part-0.jsonl", line) for line, row in enumerate(EVENTS, 1)],
            )
            _insert(
                con,
                "raw_events.quarantine",
                [("events/2024-03-01/part-0.jsonl", 11, "{not json", "invalid JSON")],
            )
        if "logs" in sources:
            _insert(
                con,
                "raw_logs.page_visits",
                [row + ("logs/2024-03-01/access.log", line) for line, row in enumerate(PAGE_VISITS, 1)],
            )
            _insert(
                con,
                "raw_logs.quarantine",
                [("logs/2024-03-01/access.log", 4, "garbage", "does not match Combined Log Format")],
            )
        if "catalog" in sources:
            _insert(con, "raw_catalog.products", PRODUCTS)
            _insert(con, "raw_catalog.quarantine", [("catalog/products.csv", 5, "P4,,,", "missing title")])
        _insert(
            con, "audit.load_audit", [(*row, None, 0) for row in LOAD_AUDIT if row[2] in sources], dlt=False
        )
    return path


def add_unbalanced_audit_row(path: str | Path) -> None:
    """Append a load_audit row whose rows_read != rows_loaded + rows_quarantined."""
    with duckdb.connect(str(path)) as con:
        con.execute("set TimeZone = 'UTC'")
        _insert(con, "audit.load_audit", [(*UNBALANCED_AUDIT_ROW, None, 0)], dlt=False)


class RawData:
    """The helpers above, handed to tests by the `raw_data` fixture (test modules never import conftest)."""

    create_warehouse = staticmethod(create_raw_warehouse)
    add_unbalanced_audit_row = staticmethod(add_unbalanced_audit_row)


@pytest.fixture(scope="session")
def raw_data() -> type[RawData]:
    return RawData


@pytest.fixture
def raw_warehouse(tmp_path: Path) -> Path:
    """A fresh raw warehouse file in the test's tmp_path."""
    return create_raw_warehouse(tmp_path / "warehouse.duckdb")
