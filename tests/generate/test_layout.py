"""The landing layout other code depends on: file names, columns, types, truth tables."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import sqlalchemy as sa

from tests.generate.conftest import ARGS, Generated
from tests.generate.helpers import CATALOG_HEADER, bad_rows, catalog_rows, good_events, read_lines

CRM_COLUMNS = {
    "customers": [
        ("customer_id", "INTEGER"), ("email", "TEXT"), ("first_name", "TEXT"), ("last_name", "TEXT"),
        ("phone", "TEXT"), ("birth_date", "DATE"), ("gender", "TEXT"), ("street_address", "TEXT"),
        ("city", "TEXT"), ("postcode", "TEXT"), ("country", "TEXT"), ("marketing_opt_in", "BOOLEAN"),
        ("created_at", "TIMESTAMP"), ("updated_at", "TIMESTAMP"), ("is_deleted", "BOOLEAN"),
    ],
    "orders": [
        ("order_id", "INTEGER"), ("customer_id", "INTEGER"), ("ordered_at", "TIMESTAMP"), ("status", "TEXT"),
        ("currency", "TEXT"), ("total_amount", "NUMERIC"), ("updated_at", "TIMESTAMP"),
    ],
    "order_items": [
        ("order_id", "INTEGER"), ("product_id", "TEXT"), ("quantity", "INTEGER"), ("unit_price", "NUMERIC"),
    ],
}  # fmt: skip
TRUTH_COLUMNS = {
    "people.parquet": ["person_id", "first_name", "last_name", "email", "country", "is_customer",
                       "top_categories", "top_themes"],
    "customers.parquet": ["customer_id", "person_id", "is_duplicate"],
    "identifiers.parquet": ["identifier_type", "identifier_value", "person_id"],
    "pages.parquet": ["url", "path", "title", "theme"],
    "bad_rows.parquet": ["source", "file", "line_number", "kind"],
    "shared_devices.parquet": ["anonymous_id", "person_id", "guest_person_id"],
    "junk_identifiers.parquet": ["identifier_type", "identifier_value", "occurrences"],
}  # fmt: skip


def test_files_are_laid_out_as_agreed(landing: Path) -> None:
    days = [(ARGS["start_date"] + dt.timedelta(days=d)).isoformat() for d in range(ARGS["days"])]
    expected = {"crm.sqlite", "catalog/products.csv", *(f"_truth/{name}" for name in TRUTH_COLUMNS)}
    expected |= {f"events/{day}/events-0001.jsonl.gz" for day in days}
    expected |= {f"logs/{day}/access-0001.log.gz" for day in days}
    assert {p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file()} == expected


def test_crm_tables_have_the_agreed_columns_and_declared_types(landing: Path) -> None:
    with sqlite3.connect(landing / "crm.sqlite") as conn:
        for table, columns in CRM_COLUMNS.items():
            info = conn.execute(f"PRAGMA table_info({table})").fetchall()
            assert [(row[1], row[2]) for row in info] == columns
        pk = {row[1]: row[5] for row in conn.execute("PRAGMA table_info(order_items)")}
        assert (pk["order_id"], pk["product_id"]) == (1, 2)


def test_sqlalchemy_reflects_and_reads_typed_values(landing: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{landing / 'crm.sqlite'}")
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        customers, orders = meta.tables["customers"], meta.tables["orders"]
        assert isinstance(customers.c.created_at.type, sa.DateTime)
        assert isinstance(customers.c.birth_date.type, sa.Date)
        assert isinstance(customers.c.is_deleted.type, sa.Boolean)
        assert isinstance(orders.c.total_amount.type, sa.Numeric)
        with engine.connect() as conn:
            row = conn.execute(sa.select(customers).where(customers.c.birth_date.is_not(None)).limit(1)).one()
            assert isinstance(row.created_at, dt.datetime) and isinstance(row.updated_at, dt.datetime)
            assert isinstance(row.birth_date, dt.date) and isinstance(row.is_deleted, bool)
            order = conn.execute(sa.select(orders).limit(1)).one()
            assert isinstance(order.ordered_at, dt.datetime)
    finally:
        engine.dispose()


def test_catalog_header_and_rows(landing: Path) -> None:
    assert (landing / "catalog" / "products.csv").read_text().split("\n", 1)[0] == CATALOG_HEADER
    header, rows = catalog_rows(landing)
    bad = bad_rows(landing)[("catalog", "catalog/products.csv")]
    assert bad, "bad_share > 0 must give some bad catalog rows"
    for number, row in enumerate(rows, 1):
        if number in bad:
            price_ok = re.fullmatch(r"\d+\.\d\d", row["price"]) is not None
            assert (row["product_id"] == "") if bad[number] == "empty_product_id" else not price_ok
            continue
        assert re.fullmatch(r"P\d{6}", row["product_id"])
        assert row["category"] in {
            "electronics",
            "books",
            "home",
            "fashion",
            "sports",
            "beauty",
            "toys",
            "grocery",
        }
        assert float(row["price"]) > 0 and row["currency"] == "EUR"
        assert row["tags"] and "|" in row["tags"]
        dt.date.fromisoformat(row["launched_at"])
    good_ids = [r["product_id"] for n, r in enumerate(rows, 1) if n not in bad]
    assert len(good_ids) == len(set(good_ids))


def test_truth_tables_have_the_agreed_columns(landing: Path) -> None:
    for name, columns in TRUTH_COLUMNS.items():
        assert pq.read_schema(landing / "_truth" / name).names == columns


def test_summary_matches_the_files(generated: Generated) -> None:
    landing, summary = generated.landing, generated.summary
    truth = pq.read_table(landing / "_truth" / "bad_rows.parquet").to_pylist()
    with sqlite3.connect(landing / "crm.sqlite") as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in CRM_COLUMNS}
    assert (summary.customers, summary.orders, summary.order_items) == (
        counts["customers"],
        counts["orders"],
        counts["order_items"],
    )
    assert summary.events == len(good_events(landing))
    log_lines = sum(len(read_lines(p)) for p in (landing / "logs").glob("*/*.log.gz"))
    assert summary.log_lines == log_lines - sum(1 for r in truth if r["source"] == "logs")
    assert summary.bad_rows == {
        s: sum(r["source"] == s for r in truth) for s in ("events", "logs", "catalog")
    }
    assert summary.files_written == len([p for p in landing.rglob("*") if p.is_file()])
    assert summary.people == ARGS["users"]
    assert summary.products == sum(1 for _ in catalog_rows(landing)[1]) - summary.bad_rows["catalog"]
    assert len(generated.messages) >= ARGS["days"] + 2
    assert any(ARGS["start_date"].isoformat() in m for m in generated.messages)
