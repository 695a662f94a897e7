"""CRM content: duplicates of the same person, messy fields, consistent timestamps."""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq


def _customers(landing: Path) -> dict[int, dict]:
    with sqlite3.connect(landing / "crm.sqlite") as conn:
        conn.row_factory = sqlite3.Row
        return {r["customer_id"]: dict(r) for r in conn.execute("SELECT * FROM customers")}


def test_some_people_have_several_differing_customer_records(landing: Path) -> None:
    customers = _customers(landing)
    truth = pq.read_table(landing / "_truth" / "customers.parquet").to_pylist()
    assert {r["customer_id"] for r in truth} == set(customers)
    records = defaultdict(list)
    for r in truth:
        records[r["person_id"]].append(customers[r["customer_id"]])
    duplicated = [rs for rs in records.values() if len(rs) >= 2]
    assert len(duplicated) >= 5
    fields = ("email", "first_name", "last_name", "phone", "street_address", "postcode")
    for rs in duplicated:  # never identical copies: dedupe has to work for it
        assert len({tuple(r[f] for f in fields) for r in rs}) == len(rs)
    swapped_or_typo = sum(
        any(a["first_name"] != b["first_name"] or a["last_name"] != b["last_name"] for b in rs[1:])
        for rs in duplicated for a in rs[:1]
    )  # fmt: skip
    assert swapped_or_typo > 0


def test_customer_fields_are_plausibly_messy(landing: Path) -> None:
    customers = list(_customers(landing).values())
    emails = [c["email"] for c in customers if c["email"]]
    assert any(e != e.strip() for e in emails) and any(e != e.lower() for e in emails)
    phones = [c["phone"] for c in customers if c["phone"]]
    styles = {re.sub(r"\d", "9", p)[:4] for p in phones}
    assert (
        len(styles) >= 3
        and any(p.startswith("+") for p in phones)
        and any(p.startswith("00") for p in phones)
    )
    assert {c["is_deleted"] for c in customers} == {0, 1}
    assert {c["marketing_opt_in"] for c in customers} == {0, 1}
    assert 0 < sum(c["is_deleted"] for c in customers) / len(customers) < 0.1


def test_timestamps_are_consistent(landing: Path) -> None:
    with sqlite3.connect(landing / "crm.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM customers WHERE updated_at < created_at").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM orders WHERE updated_at < ordered_at").fetchone()[0] == 0
        pattern = conn.execute(
            "SELECT created_at, updated_at, birth_date FROM customers WHERE birth_date IS NOT NULL"
        )
        for created, updated, birth in pattern:
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", created) and len(updated) == 19
            assert re.fullmatch(r"\d{4}-\d\d-\d\d", birth)
        # orders are placed by existing customers and their totals add up
        late = conn.execute(
            "SELECT count(*) FROM orders o JOIN customers c USING (customer_id) "
            "WHERE o.ordered_at < c.created_at"
        ).fetchone()[0]
        assert late == 0
        totals = conn.execute(
            "SELECT o.total_amount, sum(i.quantity * i.unit_price) "
            "FROM orders o JOIN order_items i USING (order_id) "
            "GROUP BY o.order_id, o.total_amount"
        ).fetchall()
        assert all(abs(a - b) < 0.01 for a, b in totals)
        statuses = {s for (s,) in conn.execute("SELECT DISTINCT status FROM orders")}
        assert statuses <= {"placed", "paid", "shipped", "delivered", "cancelled", "returned"}
        assert {"delivered", "cancelled"} <= statuses
