"""A corpus of bad input, one case a row: every case is loaded, quarantined with a readable reason, or
stops its source's load with an error naming where it is. Nothing crashes a run and nothing disappears:
for every source, rows read = rows loaded + rows quarantined.

All cases share one landing zone (a file per case for events and logs, rows of one products.csv for the
catalog, rows of one SQLite database for the CRM), loaded by one real `ingest` of every source; each case
is then checked against the rows it left in the raw table and the quarantine. Input that cannot load at
all (a wrong catalog header, CRM values SQLite let in) is in REJECTIONS, one `ingest` each.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import json
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pwh.pipeline import StepFailed, check_load_audit, ingest
from pwh.settings import Settings
from pwh.warehouse import connect
from tests.conftest import settings_for
from tests.ingestion.test_validators import GOOD_EVENT, LOG_OK

RUN_DATE = dt.date(2026, 1, 2)
DAY = RUN_DATE.isoformat()
RUN_ID = "corpus"
LOADED = "loaded"  # the row landed in the source's raw table
MB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One bad input: where it goes, what it is, and what each of its rows must become.

    `content` is a file's bytes (events, logs), CSV lines (catalog) or CRM rows (table, values).
    `expect` has one entry per row read from it, in order: LOADED or a substring of the quarantine reason;
    `()` means nothing is read (an empty file, a file left alone, a CRM row left for a later run).
    """

    source: str
    name: str
    content: object
    expect: tuple[str, ...]
    path: str | None = None  # events and logs: the file, below the landing dir (default: <name>.jsonl|.log)

    @property
    def id(self) -> str:
        return f"{self.source}:{self.name}"


def event(name: str, line: int = 1, **changes) -> dict:
    return {**GOOD_EVENT, "event_id": f"{name}-{line}", "occurred_at": f"{DAY}T10:00:00Z", **changes}


def line(doc: dict) -> bytes:
    return json.dumps(doc).encode() + b"\n"


def good(name: str, line_number: int = 1) -> bytes:
    return line(event(name, line_number))


def changed(name: str, **changes) -> bytes:
    return line(event(name, **changes))


def without(name: str, field: str) -> bytes:
    doc = event(name)
    del doc[field]
    return line(doc)


def product(**changes) -> dict:
    return {**GOOD_EVENT["product"], **changes}


def raw(name: str, text: str) -> bytes:
    """A line whose JSON text is edited as text (for what json.dumps cannot write)."""
    return good(name).replace(b'"price": 9.5', text.encode())


def cut_gzip(name: str) -> bytes:
    """A complete gzip member with two events, then the start of a second member, cut off."""
    second = gzip.compress(good(name, 3) * 50)
    return gzip.compress(good(name, 1) + good(name, 2)) + second[:20]


# fmt: off
EVENT_CASES = [
    Case("events", "baseline", good("baseline"), (LOADED,)),
    Case("events", "malformed-json", b'{"event_id": "x", "event_type"\n', ("malformed JSON",)),
    Case("events", "line-cut-short", good("line-cut-short")[:60] + b"\n", ("malformed JSON",)),
    Case("events", "array-not-object", b"[1, 2]\n", ("not a JSON object: array",)),
    Case("events", "string-not-object", b'"hello"\n', ("not a JSON object: varchar",)),
    Case("events", "invalid-utf8", good("invalid-utf8").replace(b"P1", b"P\xff1", 1), ("invalid UTF-8 at byte",)),
    Case("events", "nul-byte", good("nul-byte").replace(b"firefox", b"fire\x00fox"), ("malformed JSON",)),
    Case("events", "utf16-file", codecs.BOM_UTF16_LE + (good("utf16-file").decode() * 2).encode("utf-16-le"),
         ("UTF-16 file (it starts with a UTF-16 byte-order mark): UTF-8 expected",) * 3),
    Case("events", "missing-event-id", without("missing-event-id", "event_id"), ("missing required field event_id",)),
    Case("events", "null-event-id", changed("null-event-id", event_id=None), ("missing required field event_id",)),
    Case("events", "empty-anonymous-id", changed("empty-anonymous-id", anonymous_id=""),
         ("missing required field anonymous_id",)),
    Case("events", "missing-occurred-at", without("missing-occurred-at", "occurred_at"),
         ("missing required field occurred_at",)),
    Case("events", "unknown-event-type", changed("unknown-event-type", event_type="pageview_v2"),
         ("unknown event_type 'pageview_v2'",)),
    Case("events", "upper-case-event-type", changed("upper-case-event-type", event_type="PAGE_VIEW"),
         ("unknown event_type 'PAGE_VIEW'",)),
    Case("events", "unknown-channel", changed("unknown-channel", channel="fax"), ("unknown channel 'fax'",)),
    Case("events", "event-id-number", changed("event-id-number", event_id=123),
         ("field event_id: expected string, got ubigint",)),
    Case("events", "epoch-millis-timestamp", changed("epoch-millis-timestamp", occurred_at=1767348000000),
         ("field occurred_at: expected string, got ubigint",)),
    Case("events", "timestamp-without-offset", changed("timestamp-without-offset", occurred_at=f"{DAY}T10:00:00"),
         ("invalid timestamp in occurred_at (ISO-8601 with UTC offset expected): '2026-01-02T10:00:00'",)),
    Case("events", "impossible-timestamp", changed("impossible-timestamp", occurred_at="2026-02-30T25:61:00Z"),
         ("invalid timestamp in occurred_at",)),
    Case("events", "timestamp-in-the-future", changed("timestamp-in-the-future", occurred_at="2099-01-01T00:00:00Z"),
         ("occurred_at more than a day after the run date 2026-01-02: '2099-01-01T00:00:00Z'",)),
    Case("events", "timestamp-next-day", changed("timestamp-next-day", occurred_at="2026-01-03T23:00:00+01:00"),
         (LOADED,)),
    Case("events", "timestamp-at-epoch", changed("timestamp-at-epoch", occurred_at="1970-01-01T00:00:00Z"),
         ("occurred_at before 2000-01-01 (a clock that was never set?): '1970-01-01T00:00:00Z'",)),
    Case("events", "timestamp-before-1970", changed("timestamp-before-1970", occurred_at="1969-07-20T20:17:00Z"),
         ("occurred_at before 2000-01-01",)),
    Case("events", "timestamp-in-1999", changed("timestamp-in-1999", occurred_at="1999-12-31T23:59:59+00:00"),
         ("occurred_at before 2000-01-01",)),
    Case("events", "negative-price", changed("negative-price", product=product(price=-1)),
         ("field product_price below its minimum 0: '-1'",)),
    Case("events", "price-1e12", changed("price-1e12", product=product(price=1e12)),
         ("field product_price above its maximum 1000000000",)),
    Case("events", "price-nan-string", changed("price-nan-string", product=product(price="NaN")),
         ("field product_price: expected number, got varchar",)),
    Case("events", "price-nan-literal", raw("price-nan-literal", '"price": NaN'), ("field product_price: not a number",)),
    Case("events", "price-infinity-literal", raw("price-infinity-literal", '"price": Infinity'),
         ("field product_price: not a number",)),
    Case("events", "negative-quantity", changed("negative-quantity", product=product(quantity=-3)),
         ("field product_quantity below its minimum 1",)),
    Case("events", "zero-quantity", changed("zero-quantity", product=product(quantity=0)),
         ("field product_quantity below its minimum 1",)),
    Case("events", "quantity-1e12", changed("quantity-1e12", product=product(quantity=10**12)),
         ("field product_quantity above its maximum 100000",)),
    Case("events", "fractional-quantity", changed("fractional-quantity", product=product(quantity=2.5)),
         ("field product_quantity: expected integer, got double",)),
    Case("events", "quantity-beyond-64-bits", raw("quantity-beyond-64-bits", '"price": 9.5').replace(
        b'"quantity": 2', b'"quantity": 99999999999999999999'), ("field product_quantity: expected integer, got double",)),
    Case("events", "price-became-an-object", changed("price-became-an-object",
         product=product(price={"amount": 9.5, "currency": "EUR"})),
         ("field product_price: expected number, got object",)),
    Case("events", "product-is-a-string", changed("product-is-a-string", product="P1"),
         ("field product: expected object, got varchar",)),
    Case("events", "properties-is-a-string", changed("properties-is-a-string", properties="q=x"),
         ("field properties: expected object, got varchar",)),
    Case("events", "one-mb-line", changed("one-mb-line", page={**GOOD_EVENT["page"], "title": "x" * MB}),
         ("line too long",)),
    Case("events", "100-kb-field", changed("100-kb-field", page={**GOOD_EVENT["page"], "title": "x" * 100_000}),
         (LOADED,)),
    Case("events", "deeply-nested-properties", good("deeply-nested-properties").replace(
        b'"properties": {"q": "x"}', b'"properties": ' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000), (LOADED,)),
    Case("events", "duplicate-id-other-content", good("duplicate-id-other-content")
         + changed("duplicate-id-other-content", event_type="purchase"),
         (LOADED, "duplicate event_id (earlier line of the same file)")),
    Case("events", "zz-duplicate-of-an-earlier-file", good("duplicate-id-other-content"),
         ("duplicate event_id (loaded in an earlier file of this run)",)),
    Case("events", "broken-email", changed("broken-email", email="not-an-email"), (LOADED,)),
    Case("events", "new-top-level-field", changed("new-top-level-field", loyalty_tier="gold"), (LOADED,)),
    Case("events", "new-nested-field", changed("new-nested-field", product=product(color="red")), (LOADED,)),
    Case("events", "empty-file", b"", ()),
    Case("events", "blank-lines", b"\n  \n\r\n", ()),
    Case("events", "byte-order-mark", codecs.BOM_UTF8 + good("byte-order-mark"), (LOADED,)),
    Case("events", "crlf-line-endings", good("crlf-line-endings", 1).replace(b"\n", b"\r\n")
         + good("crlf-line-endings", 2).replace(b"\n", b"\r\n"), (LOADED, LOADED)),
    Case("events", "truncated-gzip", cut_gzip("truncated-gzip"), (LOADED, LOADED, "truncated gzip file"),
         path=f"events/{DAY}/truncated-gzip.jsonl.gz"),
    Case("events", "not-gzip-named-gz", good("not-gzip-named-gz"), ("corrupt gzip file: no gzip header",),
         path=f"events/{DAY}/not-gzip-named-gz.jsonl.gz"),
    Case("events", "gzip-named-jsonl", gzip.compress(good("gzip-named-jsonl")), (LOADED,)),
    Case("events", "concatenated-gzip-members",
         gzip.compress(good("concatenated-gzip-members", 1)) + gzip.compress(good("concatenated-gzip-members", 2)),
         (LOADED, LOADED), path=f"events/{DAY}/concatenated-gzip-members.jsonl.gz"),
    Case("events", "wrong-file-suffix", good("wrong-file-suffix"), (), path=f"events/{DAY}/wrong-file-suffix.csv"),
    Case("events", "impossible-day-folder", good("impossible-day-folder"), (),
         path="events/2026-02-30/impossible-day-folder.jsonl"),
]

LOG_LINE = LOG_OK.replace("03/Jan/2026", "02/Jan/2026")


def log_line(old: str = "", new: str = "") -> bytes:
    return (LOG_LINE.replace(old, new) if old else LOG_LINE).encode() + b"\n"


LOG_CASES = [
    Case("logs", "baseline", log_line(), (LOADED,)),
    Case("logs", "line-cut-short", log_line()[:60] + b"\n", ("not a Combined Log Format line with a trailing cookie field",)),
    Case("logs", "no-cookie-field", log_line(' "c1"', ""), ("not a Combined Log Format line",)),
    Case("logs", "nginx-empty-request", log_line('"GET /magazine/cooking/pasta HTTP/1.1"', '"-"'),
         ("not a Combined Log Format line",)),
    Case("logs", "binary-garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n", ("invalid UTF-8 at byte",)),
    Case("logs", "impossible-timestamp", log_line("02/Jan/2026", "33/Foo/2026"),
         ("invalid timestamp: '33/Foo/2026:14:22:05 +0100'",)),
    Case("logs", "timestamp-without-zone", log_line(" +0100]", "]"), ("invalid timestamp",)),
    Case("logs", "timestamp-in-the-future", log_line("02/Jan/2026", "02/Jan/2099"),
         ("requested_at more than a day after the run date 2026-01-02: '02/Jan/2099:14:22:05 +0100'",)),
    Case("logs", "timestamp-before-1970", log_line("02/Jan/2026", "02/Jan/1969"),
         ("requested_at before 2000-01-01",)),
    Case("logs", "status-code-999", log_line(" 200 ", " 999 "), ("HTTP status out of range (100-599): 999",)),
    Case("logs", "response-size-beyond-64-bits", log_line(" 5123 ", " 99999999999999999999 "),
         ("response size out of range: '99999999999999999999'",)),
    Case("logs", "escaped-quote-in-user-agent", log_line("Mozilla/5.0 (X11)", 'Mozilla/5.0 \\"quoted\\"'), (LOADED,)),
    Case("logs", "no-cookie-no-size", log_line('"c1"', '"-"').replace(b" 5123 ", b" - "), (LOADED,)),
    Case("logs", "invalid-utf8-in-url", log_line().replace(b"pasta", b"pa\xe9sta"), ("invalid UTF-8 at byte",)),
    Case("logs", "one-mb-url", log_line("/magazine/cooking/pasta", "/" + "x" * MB), ("line too long",)),
    Case("logs", "crlf-line-endings", log_line().replace(b"\n", b"\r\n") * 2, (LOADED, LOADED)),
    Case("logs", "byte-order-mark", codecs.BOM_UTF8 + log_line(), (LOADED,)),
    Case("logs", "empty-file", b"", ()),
    Case("logs", "truncated-gzip", gzip.compress(log_line())[:-12], ("truncated gzip file",),
         path=f"logs/{DAY}/truncated-gzip.log.gz"),
    Case("logs", "not-gzip-named-gz", log_line(), ("corrupt gzip file",), path=f"logs/{DAY}/not-gzip-named-gz.log.gz"),
]


def csv_row(name: str, **changes: str) -> str:
    fields = {
        "product_id": name, "title": "T", "description": "a, quoted; description", "category": "books",
        "brand": "B", "price": "9.50", "currency": "eur", "tags": "a|b", "launched_at": "2025-06-01", **changes,
    }
    return ",".join(f'"{value}"' if "," in value or "\n" in value else value for value in fields.values()) + "\n"


CATALOG_CASES = [  # rows of one products.csv, in this order (the unclosed quote swallows what follows it)
    Case("catalog", "byte-order-mark-before-header", csv_row("byte-order-mark-before-header"), (LOADED,)),
    Case("catalog", "baseline", csv_row("baseline"), (LOADED,)),
    Case("catalog", "empty-product-id", csv_row(""), ("missing required field product_id",)),
    Case("catalog", "blank-product-id", csv_row("  "), ("missing required field product_id",)),
    Case("catalog", "price-not-a-number", csv_row("price-not-a-number", price="abc"),
         ("price must be a number from 0 to 1000000000, got 'abc'",)),
    Case("catalog", "price-missing", csv_row("price-missing", price=""), ("price must be a number",)),
    Case("catalog", "negative-price", csv_row("negative-price", price="-1"), ("price must be a number",)),
    Case("catalog", "price-nan", csv_row("price-nan", price="NaN"), ("price must be a number",)),
    Case("catalog", "price-infinity", csv_row("price-infinity", price="inf"), ("got 'inf'",)),
    Case("catalog", "price-1e12", csv_row("price-1e12", price="1e12"), ("got '1e12'",)),
    Case("catalog", "launch-date-not-a-date", csv_row("launch-date-not-a-date", launched_at="soon"),
         ("invalid launched_at date: 'soon'",)),
    Case("catalog", "impossible-launch-date", csv_row("impossible-launch-date", launched_at="2026-02-30"),
         ("invalid launched_at date",)),
    Case("catalog", "launch-date-1900", csv_row("launch-date-1900", launched_at="1900-01-01"), (LOADED,)),
    Case("catalog", "too-few-fields", "too-few-fields,T,d,books,B\n", ("expected 9 fields, got 5",)),
    Case("catalog", "too-many-fields", csv_row("too-many-fields").replace("\n", ",extra\n"),
         ("expected 9 fields, got 10",)),
    Case("catalog", "duplicate-id-other-content", csv_row("duplicate-id-other-content")
         + csv_row("duplicate-id-other-content", price="19.50"),
         (LOADED, "duplicate product_id (earlier row of the same file)")),
    Case("catalog", "invalid-utf8", csv_row("invalid-utf8").replace("T,", "T\udcff,", 1),
         ("invalid UTF-8 at byte 14",)),
    Case("catalog", "one-mb-description", csv_row("one-mb-description", description="x" * MB), ("row too long",)),
    Case("catalog", "200-kb-description", csv_row("200-kb-description", description="x" * 200_000), (LOADED,)),
    Case("catalog", "nul-byte", csv_row("nul-byte", title="T\x00T"), (LOADED,)),
    Case("catalog", "crlf-line-ending", csv_row("crlf-line-ending").replace("\n", "\r\n"), (LOADED,)),
    Case("catalog", "newline-in-quoted-field", csv_row("newline-in-quoted-field", description="two\nlines"), (LOADED,)),
    Case("catalog", "blank-line", "\n", ()),
    Case("catalog", "unclosed-quote", 'unclosed-quote,"T,d,books,B,9.50,EUR,a,2025-06-01\n' + "swallowed,T,d,books,B,1,EUR,t,2025-01-01\n",
         ("expected 9 fields, got 2 (the row runs from line",)),
]

HELD_BACK = ()  # a CRM row updated after the day after the run date: left for a later run, not read

CRM_CASES = [  # rows of one SQLite CRM; `last_name` (customers), `status` (orders), `order_id` (items) mark them
    Case("crm", "baseline", [("customers", {})], (LOADED,)),
    Case("crm", "email-without-domain-dot", [("customers", {"email": "bob@example"})], (LOADED,)),
    Case("crm", "email-double-at", [("customers", {"email": "carol@@example.org"})], (LOADED,)),
    Case("crm", "email-not-an-email", [("customers", {"email": "not an email"})], (LOADED,)),
    Case("crm", "email-empty", [("customers", {"email": ""})], (LOADED,)),
    Case("crm", "email-padded-upper-case", [("customers", {"email": "  Ann@EXAMPLE.com "})], (LOADED,)),
    Case("crm", "phone-words", [("customers", {"phone": "call me"})], (LOADED,)),
    Case("crm", "phone-too-short", [("customers", {"phone": "123"})], (LOADED,)),
    Case("crm", "phone-with-extension", [("customers", {"phone": "+44 20 7946 0958 ext 12"})], (LOADED,)),
    Case("crm", "one-mb-address", [("customers", {"street_address": "x" * MB})], (LOADED,)),
    Case("crm", "unknown-gender", [("customers", {"gender": "banana"})], (LOADED,)),
    Case("crm", "created-in-the-future", [("customers", {"created_at": "2099-01-01 00:00:00"})], (LOADED,)),
    Case("crm", "updated-before-1970", [("customers", {"updated_at": "1960-01-01 00:00:00"})], (LOADED,)),
    Case("crm", "null-updated-at", [("customers", {"updated_at": None})], (LOADED,)),
    Case("crm", "updated-in-the-future", [("customers", {"updated_at": "2099-01-01 00:00:00"})], HELD_BACK),
    Case("crm", "null-customer-id", [("customers", {"customer_id": None})], ("missing primary key (customer_id)",)),
    Case("crm", "duplicate-customer-id", [("customers", {"customer_id": 9000}),
                                          ("customers", {"customer_id": 9000, "email": "other@example.com"})],
         (LOADED, "duplicate primary key customer_id=9000: an earlier row of this load has it")),
    Case("crm", "negative-total", [("orders", {"total_amount": -5})], (LOADED,)),
    Case("crm", "total-1e12", [("orders", {"total_amount": 1e12})], (LOADED,)),
    Case("crm", "order-of-unknown-customer", [("orders", {"customer_id": 424242})], (LOADED,)),
    Case("crm", "order-in-the-future", [("orders", {"updated_at": "2099-01-01 00:00:00"})], HELD_BACK),
    Case("crm", "negative-quantity", [("order_items", {"quantity": -2})], (LOADED,)),
    Case("crm", "quantity-1e12", [("order_items", {"quantity": 10**12})], (LOADED,)),
    Case("crm", "null-product-id", [("order_items", {"product_id": None})],
         ("missing primary key (order_id, product_id)",)),
]
# fmt: on

CASES = EVENT_CASES + LOG_CASES + CATALOG_CASES + CRM_CASES
MARKER = {"customers": "last_name", "orders": "status", "order_items": "order_id"}
CRM_SCHEMA = """
create table customers(customer_id INTEGER, email TEXT, first_name TEXT, last_name TEXT, phone TEXT,
  birth_date DATE, gender TEXT, street_address TEXT, city TEXT, postcode TEXT, country TEXT,
  marketing_opt_in BOOLEAN, created_at TIMESTAMP, updated_at TIMESTAMP, is_deleted BOOLEAN);
create table orders(order_id INTEGER PRIMARY KEY, customer_id INTEGER, ordered_at TIMESTAMP, status TEXT,
  currency TEXT, total_amount NUMERIC, updated_at TIMESTAMP);
create table order_items(order_id INTEGER, product_id TEXT, quantity INTEGER, unit_price NUMERIC,
  PRIMARY KEY(order_id, product_id));
"""  # customers without a key constraint, as a CRM export or view may be: duplicates and nulls get in


def crm_rows(cases: list[Case]) -> Iterator[tuple[str, dict]]:
    """Every CRM case's rows with the defaults filled in and the case's marker set."""
    for number, case in enumerate(cases, start=1):  # numbers: the default keys
        for table, values in case.content:
            defaults = {
                "customers": {
                    "customer_id": number, "email": "ann@example.com", "first_name": "Ann", "phone": "+44 20 7946 0958",
                    "birth_date": "1980-01-02", "gender": "f", "street_address": "1 High St", "city": "London",
                    "postcode": "N1", "country": "GB", "marketing_opt_in": 1, "created_at": "2026-01-01 10:00:00",
                    "updated_at": "2026-01-01 10:00:00", "is_deleted": 0,
                },
                "orders": {
                    "order_id": number, "customer_id": 1, "ordered_at": "2026-01-01 12:00:00", "currency": "EUR",
                    "total_amount": 12.5, "updated_at": "2026-01-01 12:00:00",
                },
                "order_items": {"product_id": "P1", "quantity": 1, "unit_price": 12.5},
            }[table]  # fmt: skip
            yield table, {**defaults, MARKER[table]: crm_marker(case)[2], **values}


def write_landing(landing: Path) -> None:
    for case in EVENT_CASES + LOG_CASES:
        suffix = ".jsonl" if case.source == "events" else ".log"
        path = landing / (case.path or f"{case.source}/{DAY}/{case.name}{suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.content)
    text = "".join(case.content for case in CATALOG_CASES)
    header = "product_id,title,description,category,brand,price,currency,tags,launched_at\n"
    (landing / "catalog").mkdir(parents=True)
    data = codecs.BOM_UTF8 + (header + text).encode("utf-8", errors="surrogateescape")
    (landing / "catalog" / "products.csv").write_bytes(data)
    with sqlite3.connect(landing / "crm.sqlite") as con:
        con.executescript(CRM_SCHEMA)
        for table, values in crm_rows(CRM_CASES):
            names = ", ".join(values)
            con.execute(
                f"insert into {table} ({names}) values ({', '.join('?' for _ in values)})",
                list(values.values()),
            )


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class CorpusRun:
    settings: Settings
    audit: list
    log: list[str]
    seconds: float


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusRun]:
    """Every case in one landing zone, ingested by one real run of every source."""
    import time

    root = tmp_path_factory.mktemp("corpus")
    (root / "data").mkdir()
    write_landing(root / "data" / "landing")
    records = Records()
    logging.getLogger("ingestion").addHandler(records)
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = settings_for(root / "data", monkeypatch)
        started = time.monotonic()
        try:
            audit = ingest(settings, RUN_DATE, RUN_ID)
        finally:
            logging.getLogger("ingestion").removeHandler(records)
        yield CorpusRun(settings, audit, records.messages, time.monotonic() - started)


def crm_marker(case: Case) -> tuple[str, str, object]:
    """The CRM table a case writes and the column and value its rows are marked with."""
    ((table, _), *_) = case.content
    marker = CRM_CASES.index(case) + 1 if table == "order_items" else case.name
    return table, MARKER[table], marker


def outcomes(con, case: Case) -> list[str]:
    """What became of each row read from the case, in order: LOADED or the quarantine reason."""
    if case.source == "crm":
        table, column, marker = crm_marker(case)
        loaded = con.execute(f"select count(*) from raw_crm.{table} where {column} = ?", [marker]).fetchone()[
            0
        ]
        reasons = con.execute(
            "select reason from raw_crm.quarantine where source_file = ? and json_extract_string(raw_line, ?) = ?",
            [table, f"$.{column}", str(marker)],
        ).fetchall()
        return [LOADED] * loaded + [reason for (reason,) in reasons]
    dataset, table = {"events": ("raw_events", "events"), "logs": ("raw_logs", "page_visits"),
                      "catalog": ("raw_catalog", "products")}[case.source]  # fmt: skip
    if case.source == "catalog":
        where, params = "line_number between ? and ?", list(catalog_lines()[case.name])
    else:
        suffix = ".jsonl" if case.source == "events" else ".log"
        where, params = "source_file = ?", [case.path or f"{case.source}/{DAY}/{case.name}{suffix}"]
    rows = con.execute(
        f"select line_number, 'loaded' from {dataset}.{table} where {where} "
        f"union all select line_number, reason from {dataset}.quarantine where {where} order by 1",
        params + params,
    ).fetchall()
    return [outcome for _, outcome in rows]


def catalog_lines() -> dict[str, tuple[int, int]]:
    """The first and last line of products.csv each catalog case occupies (the header is line 1)."""
    lines, first = {}, 2
    for case in CATALOG_CASES:
        count = case.content.count("\n")
        lines[case.name] = (first, first + count - 1)
        first += count
    return lines


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_case_is_loaded_or_quarantined_with_its_reason(corpus: CorpusRun, case: Case) -> None:
    with connect(corpus.settings.warehouse_path, read_only=True) as con:
        found = outcomes(con, case)
    assert len(found) == len(case.expect), (found, case.expect)
    for outcome, expected in zip(found, case.expect, strict=True):
        if expected == LOADED:
            assert outcome == LOADED, outcome
        else:
            assert expected in outcome, (expected, outcome)


def test_every_row_read_is_loaded_or_quarantined(corpus: CorpusRun) -> None:
    assert len(CASES) >= 50
    assert check_load_audit(corpus.settings, RUN_DATE, RUN_ID) == 6
    figures = {}
    for row in corpus.audit:
        assert row.rows_read == row.rows_loaded + row.rows_quarantined, row
        figures[(row.source, row.table_name)] = (row.rows_read, row.rows_loaded, row.rows_quarantined)
    for source in ("events", "logs", "catalog"):
        cases = [case for case in CASES if case.source == source]
        expected = [outcome for case in cases for outcome in case.expect]
        ((read, loaded, quarantined),) = [counts for (name, _), counts in figures.items() if name == source]
        assert read == len(expected), f"{source}: every row of the corpus is accounted for, once"
        assert loaded == expected.count(LOADED) and quarantined == read - loaded, source
    crm = [row for row in corpus.audit if row.source == "crm"]
    assert sum(row.rows_read for row in crm) == sum(len(case.expect) for case in CRM_CASES)
    print("corpus figures (read, loaded, quarantined):", figures, f"in {corpus.seconds:.1f} s")


def test_new_fields_are_kept_and_reported(corpus: CorpusRun) -> None:
    """Schema drift: a field the schema lacks lands in extra_fields, and the audit and the log name it."""
    with connect(corpus.settings.warehouse_path, read_only=True) as con:
        extra = dict(
            con.execute(
                "select event_id, extra_fields from raw_events.events where extra_fields is not null"
            ).fetchall()
        )
        new_fields = con.execute(
            "select distinct new_fields from audit.load_audit where run_id = ? and source = 'events'",
            [RUN_ID],
        ).fetchall()
    assert {key: json.loads(value) for key, value in extra.items()} == {
        "new-top-level-field-1": {"loyalty_tier": "gold"},
        "new-nested-field-1": {"product": {"color": "red"}},
    }
    assert new_fields == [("loyalty_tier (1), product.color (1)",)]
    assert any("extra_fields: loyalty_tier (1), product.color (1)" in message for message in corpus.log)
    # a changed type is no new field: the row is quarantined, the reason names the field and both types
    with connect(corpus.settings.warehouse_path, read_only=True) as con:
        changed_type = con.execute(
            "select reason from raw_events.quarantine where source_file like '%price-became-an-object%'"
        ).fetchall()
    assert changed_type == [("field product_price: expected number, got object",)]
    assert any("row(s) quarantined" in message for message in corpus.log)


def test_files_left_alone_and_crm_rows_held_back_are_reported(corpus: CorpusRun) -> None:
    messages = "\n".join(corpus.log)
    assert f"skipping events/{DAY}/wrong-file-suffix.csv: events files end in .jsonl" in messages
    assert "2026-02-30: landing folders must be named after a date" in messages
    assert (
        "crm.customers: 1 row(s) with updated_at from 2026-01-04 00:00:00 on (the latest 2099-01-01"
        in messages
    )
    assert "crm.orders: 1 row(s) with updated_at from 2026-01-04 00:00:00 on" in messages


def test_the_crm_loads_broken_contact_details_as_they_are(corpus: CorpusRun) -> None:
    """The CRM is the system of record: staging, not ingestion, decides what a usable email or phone is."""
    with connect(corpus.settings.warehouse_path, read_only=True) as con:
        rows = dict(con.execute("select last_name, email from raw_crm.customers").fetchall())
        phones = dict(con.execute("select last_name, phone from raw_crm.customers").fetchall())
    assert rows["email-not-an-email"] == "not an email" and rows["email-empty"] == ""
    assert phones["phone-words"] == "call me"


def test_staging_nulls_the_crm_contact_details_it_cannot_use(corpus: CorpusRun) -> None:
    """What stg_crm__customers makes of the corpus's broken emails and phones (dbt, on the corpus run)."""
    from pwh.pipeline import dbt

    dbt(corpus.settings, RUN_DATE, "build", "--select", "+stg_crm__customers", "--resource-type", "seed",
        "--resource-type", "model")  # fmt: skip
    with connect(corpus.settings.warehouse_path, read_only=True) as con:
        staged = {
            case: (email, phone)
            for case, email, phone in con.execute(
                "select raw.last_name, stg.email, stg.phone from staging.stg_crm__customers as stg "
                "inner join raw_crm.customers as raw on stg.customer_id = raw.customer_id"
            ).fetchall()
        }
    assert staged["baseline"] == ("ann@example.com", "+442079460958")
    assert staged["email-padded-upper-case"][0] == "ann@example.com"
    for case in ("email-without-domain-dot", "email-double-at", "email-not-an-email", "email-empty"):
        assert staged[case][0] is None, case
    assert staged["phone-words"][1] is None and staged["phone-too-short"][1] is None
    assert staged["phone-with-extension"][1] == "+442079460958", "the extension is cut, not joined"


# fmt: off
REJECTIONS = [  # source, what lands, the error naming where it is
    ("catalog", "header-renamed", lambda landing: (landing / "catalog" / "products.csv").write_text(
        "id,title,description,category,brand,price,currency,tags,launched_at\nP1,T,d,c,b,1,EUR,t,2025-01-01\n"),
     r"ingest catalog: catalog/products.csv line 1: header must be product_id,title,.*got id,title"),
    ("catalog", "parquet-that-is-not", lambda landing: (landing / "catalog" / "products.parquet").write_bytes(
        b"PAR1 not really"), r"ingest catalog: catalog/products.parquet: not a readable Parquet file"),
    ("crm", "values-sqlite-lets-in", lambda landing: damaged_crm(landing / "crm.sqlite"),
     r"ingest crm: CRM values the warehouse cannot hold \(fix them in the CRM\): "
     r"customers customer_id=2: email is not valid UTF-8: b'\\xffA'; "
     r"customers customer_id=3: birth_date does not read as DATE: 'soon'.*; "
     r"orders order_id=11: customer_id does not read as INTEGER: 'abc'; "
     r"orders order_id=12: total_amount is out of range for decimal\(38, 9\)"),
]
# fmt: on


def damaged_crm(path: Path) -> None:
    """Values SQLite stores whatever the column's type, next to rows that are fine."""
    with sqlite3.connect(path) as con:
        con.executescript(
            CRM_SCHEMA
            + """
            insert into customers (customer_id, email, updated_at) values (1, 'ann@example.com', '2026-01-01 10:00:00');
            insert into customers (customer_id, email, updated_at) values (2, cast(x'ff41' as text), '2026-01-01 10:00:00');
            insert into customers (customer_id, birth_date, updated_at) values (3, 'soon', '2026-01-01 10:00:00');
            insert into orders (order_id, customer_id, updated_at) values (10, 1, '2026-01-01 10:00:00');
            insert into orders (order_id, customer_id, updated_at) values (11, 'abc', '2026-01-01 10:00:00');
            insert into orders (order_id, total_amount, updated_at) values (12, 1e30, '2026-01-01 10:00:00');
            """
        )


@pytest.mark.parametrize(("source", "name", "write", "error"), REJECTIONS, ids=[r[1] for r in REJECTIONS])
def test_a_file_or_value_that_cannot_load_stops_its_source_naming_where(settings, source, name, write, error):
    settings.landing_dir.mkdir(parents=True)
    (settings.landing_dir / "catalog").mkdir()
    write(settings.landing_dir)
    with pytest.raises(StepFailed, match=error):
        ingest(settings, RUN_DATE, "run-1", (source,))
