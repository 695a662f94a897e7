"""CRM loads: incremental on updated_at, merged on keys, soft deletes kept, clear errors."""

import datetime as dt
import sqlite3

import pytest

from pwh.pipeline import StepFailed, ingest
from pwh.warehouse import connect

RUN_DATE = dt.date(2026, 1, 2)
SCHEMA = """
create table customers(customer_id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT, phone TEXT,
  birth_date DATE, gender TEXT, street_address TEXT, city TEXT, postcode TEXT, country TEXT,
  marketing_opt_in BOOLEAN, created_at TIMESTAMP, updated_at TIMESTAMP, is_deleted BOOLEAN);
create table orders(order_id INTEGER PRIMARY KEY, customer_id INTEGER, ordered_at TIMESTAMP, status TEXT,
  currency TEXT, total_amount NUMERIC, updated_at TIMESTAMP);
create table order_items(order_id INTEGER, product_id TEXT, quantity INTEGER, unit_price NUMERIC,
  PRIMARY KEY(order_id, product_id));
insert into customers values
  (1, 'Ann@Example.com ', 'ann', 'lee', '+44 20 7946 0958', '1980-01-02', 'f', '1 High St', 'London', 'N1', 'GB',
   1, '2026-01-01 10:00:00', '2026-01-01 10:00:00', 0),
  (2, 'bob@example.com', 'Bob', 'Stone', '020-7946-0000', '1975-05-06', 'm', '2 Low Rd', 'Leeds', 'LS1', 'GB',
   0, '2026-01-01 11:00:00', '2026-01-01 11:00:00', 0);
insert into orders values (10, 1, '2026-01-01 12:00:00', 'paid', 'GBP', 12.5, '2026-01-01 12:00:00');
insert into order_items values (10, 'P000001', 1, 12.5);
"""


@pytest.fixture
def crm(settings):
    settings.landing_dir.mkdir(parents=True)
    with sqlite3.connect(settings.landing_dir / "crm.sqlite") as con:
        con.executescript(SCHEMA)
    return settings.landing_dir / "crm.sqlite"


def crm_rows(audit_rows):
    return {row.table_name: (row.rows_read, row.rows_loaded) for row in audit_rows if row.source == "crm"}


def test_incremental_merge_and_soft_delete(settings, crm):
    first = ingest(settings, RUN_DATE, "run-1", ("crm",))
    assert crm_rows(first) == {"customers": (2, 2), "orders": (1, 1), "order_items": (1, 1)}

    assert crm_rows(ingest(settings, RUN_DATE, "run-2", ("crm",))) == {
        "customers": (0, 0), "orders": (0, 0), "order_items": (0, 0)
    }  # fmt: skip

    with sqlite3.connect(crm) as con:
        con.execute("alter table customers add column loyalty_tier TEXT")  # schema drift: kept, reported
        con.execute(
            "update customers set is_deleted = 1, loyalty_tier = 'gold', updated_at = '2026-01-02 09:00:00' "
            "where customer_id = 2"
        )
    third = ingest(settings, RUN_DATE, "run-3", ("crm",))
    assert crm_rows(third)["customers"] == (1, 1)
    assert [row.new_fields for row in third] == ["loyalty_tier (new column)", None, None]

    with connect(settings.warehouse_path, read_only=True) as con:
        rows = con.execute(
            "select customer_id, is_deleted, loyalty_tier from raw_crm.customers order by 1"
        ).fetchall()
        lake_files = list((settings.data_dir / "lake" / "raw_crm" / "customers").rglob("*.parquet"))
    assert rows == [(1, False, None), (2, True, "gold")]
    assert len(lake_files) == 2, "one lake file per load that changed customers"


def test_a_row_dated_in_the_future_does_not_hide_later_changes(settings, crm):
    """The cursor only moves up to the day after the run date; rows without updated_at are read every run."""
    with sqlite3.connect(crm) as con:
        con.execute("insert into customers (customer_id, updated_at) values (3, '2099-01-01 00:00:00')")
        con.execute("update customers set updated_at = null where customer_id = 2")
    assert crm_rows(ingest(settings, RUN_DATE, "run-1", ("crm",)))["customers"] == (2, 2), "1 and 2, not 3"

    with sqlite3.connect(crm) as con:
        con.execute(
            "update customers set first_name = 'Annie', updated_at = '2026-01-02 09:00:00' where customer_id = 1"
        )
    assert crm_rows(ingest(settings, RUN_DATE, "run-2", ("crm",)))["customers"] == (2, 2), "1's change, and 2"
    assert crm_rows(ingest(settings, dt.date(2099, 1, 1), "run-3", ("crm",)))["customers"] == (2, 2), (
        "3 and 2"
    )
    with connect(settings.warehouse_path, read_only=True) as con:
        rows = con.execute("select customer_id, first_name from raw_crm.customers order by 1").fetchall()
    assert rows == [(1, "Annie"), (2, "Bob"), (3, None)]


def test_missing_crm_database_loads_nothing(settings):
    rows = ingest(settings, RUN_DATE, "run-1", ("crm",))
    assert [(row.rows_read, row.rows_loaded) for row in rows] == [(0, 0)] * 3


def test_broken_crm_database_fails_naming_the_source(settings, monkeypatch):
    settings.landing_dir.mkdir(parents=True)
    (settings.landing_dir / "crm.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(StepFailed, match=r"ingest crm: CRM database sqlite:///.*crm.sqlite is unreachable"):
        ingest(settings, RUN_DATE, "run-1", ("crm",))
