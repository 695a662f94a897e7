"""Event files: every line is either a valid event or a bad row the truth names, and the events tell a
consistent story with the CRM, the catalog and the people behind them."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.generate.helpers import (
    CHANNELS,
    EVENT_KEYS,
    EVENT_TYPES,
    bad_rows,
    catalog_rows,
    event_problem,
    good_events,
    read_lines,
    utc,
)

RATES = {"EUR": 1.0, "USD": 1.08, "GBP": 0.86, "SEK": 11.2}
PRODUCT_EVENTS = {"product_view", "add_to_cart", "remove_from_cart", "purchase", "video_play"}


@pytest.fixture(scope="module")
def events(landing: Path) -> list[tuple[str, dict]]:
    return good_events(landing)


@pytest.fixture(scope="module")
def person_of(landing: Path) -> dict[tuple[str, str], int]:
    rows = pq.read_table(landing / "_truth" / "identifiers.parquet").to_pylist()
    return {(r["identifier_type"], r["identifier_value"]): r["person_id"] for r in rows}


def test_each_line_is_valid_or_a_recorded_bad_row_of_that_kind(landing: Path) -> None:
    truth = bad_rows(landing)
    kinds = Counter()
    for path in sorted((landing / "events").glob("*/*.jsonl.gz")):
        relative = path.relative_to(landing).as_posix()
        expected = truth.get(("events", relative), {})
        seen: set[str] = set()
        found = {n: kind for n, line in enumerate(read_lines(path), 1) if (kind := event_problem(line, seen))}
        assert found == expected, relative
        kinds.update(found.values())
    assert set(kinds) == {
        "malformed_json",
        "missing_field",
        "unknown_event_type",
        "bad_timestamp",
        "duplicate",
    }


def test_valid_events_have_the_agreed_shape(events: list[tuple[str, dict]]) -> None:
    assert set(Counter(e["event_type"] for _, e in events)) == EVENT_TYPES
    offsets = Counter()
    for relative, e in events:
        assert list(e) == EVENT_KEYS
        assert e["channel"] in CHANNELS
        assert utc(e["occurred_at"]).date().isoformat() == relative.split("/")[1]
        offsets[e["occurred_at"][23:]] += 1
        assert e["user_id"] is None or e["user_id"].isdigit()
        assert (e["order_id"] is not None) == (e["event_type"] == "purchase")
        assert (e["product"] is not None) == (e["event_type"] in PRODUCT_EVENTS)
        assert (e["channel"] == "server") == (e["event_type"] == "purchase")
        assert (e["device"] is None) == (e["page"] is None) == (e["channel"] == "server")
        if e["device"] is not None:
            assert e["device"]["type"] in {"desktop", "mobile", "tablet"}
            assert (e["device"]["browser"] is None) == (e["channel"] != "web")
        if e["page"] is not None:
            assert e["page"]["url"].startswith("https://shop.example.com/")
        if e["event_type"] in {"login", "signup", "form_submit"}:
            assert "@" in e["email"]
        else:
            assert e["email"] is None
        if e["event_type"] in {"login", "signup", "purchase"}:
            assert e["user_id"] is not None
        assert isinstance(e["properties"], dict) and isinstance(e["session_id"], str)
    assert set(offsets) == {"Z", "+00:00", "+01:00", "-05:00"}
    assert len({e["event_id"] for _, e in events}) == len(events)


def test_events_are_in_time_order_within_a_file(events: list[tuple[str, dict]]) -> None:
    by_file = defaultdict(list)
    for relative, e in events:
        by_file[relative].append(utc(e["occurred_at"]))
    for times in by_file.values():
        assert times == sorted(times)


def test_purchases_are_crm_orders_of_the_logged_in_customer(
    landing: Path, events: list[tuple[str, dict]]
) -> None:
    purchases = defaultdict(list)
    for _, e in events:
        if e["event_type"] == "purchase":
            purchases[int(e["order_id"])].append(e)
    assert purchases
    with sqlite3.connect(landing / "crm.sqlite") as conn:
        orders = {
            r[0]: r[1:]
            for r in conn.execute("SELECT order_id, customer_id, ordered_at, currency FROM orders")
        }
        items = defaultdict(dict)
        for order_id, product_id, quantity, price in conn.execute("SELECT * FROM order_items"):
            items[order_id][product_id] = (quantity, price)
        sequence = [r[0] for r in conn.execute("SELECT ordered_at FROM orders ORDER BY order_id")]
    assert sequence == sorted(sequence), "order ids must grow with ordered_at"
    for order_id, lines in purchases.items():
        customer_id, ordered_at, currency = orders[order_id]
        assert {int(e["user_id"]) for e in lines} == {customer_id}
        assert ordered_at == utc(lines[0]["occurred_at"]).strftime("%Y-%m-%d %H:%M:%S")
        for e in lines:
            p = e["product"]
            assert p["currency"] == currency
            assert items[order_id][p["product_id"]] == (p["quantity"], pytest.approx(p["price"]))


def test_signups_happen_when_the_customer_was_created(landing: Path, events: list[tuple[str, dict]]) -> None:
    signups = [e for _, e in events if e["event_type"] == "signup"]
    assert signups
    with sqlite3.connect(landing / "crm.sqlite") as conn:
        created = dict(conn.execute("SELECT customer_id, created_at FROM customers"))
    for e in signups:
        assert created[int(e["user_id"])] == utc(e["occurred_at"]).strftime("%Y-%m-%d %H:%M:%S")


def test_prices_follow_the_catalog_and_products_appear_after_launch(
    landing: Path, events: list[tuple[str, dict]]
) -> None:
    _, rows = catalog_rows(landing)
    catalog = {r["product_id"]: r for r in rows if r["product_id"]}
    launched_in_window = 0
    for relative, e in events:
        if e["product"] is None:
            continue
        product = catalog[e["product"]["product_id"]]
        assert e["product"]["price"] == round(float(product["price"]) * RATES[e["product"]["currency"]], 2)
        launched = dt.date.fromisoformat(product["launched_at"])
        assert launched <= dt.date.fromisoformat(relative.split("/")[1])
        launched_in_window += launched >= dt.date(2026, 1, 1)
    assert launched_in_window > 0, "new products should show up during the window"


def test_identifiers_of_an_event_belong_to_one_person(
    landing: Path, events: list[tuple[str, dict]], person_of: dict[tuple[str, str], int]
) -> None:
    """An event's account and email are its device owner's, unless a housemate uses the device."""
    shared = pq.read_table(landing / "_truth" / "shared_devices.parquet").to_pylist()
    guests = {(r["anonymous_id"], r["guest_person_id"]) for r in shared}
    junk_rows = pq.read_table(landing / "_truth" / "junk_identifiers.parquet").to_pylist()
    junk = {(r["identifier_type"], r["identifier_value"]) for r in junk_rows}
    cookies_of = defaultdict(set)
    for _, e in events:
        cookie = e["anonymous_id"]
        owner = None if ("anonymous_id", cookie) in junk else person_of[("anonymous_id", cookie)]
        cookies_of[owner].add(cookie)
        known = []
        if e["user_id"] is not None:
            known.append(person_of[("user_id", e["user_id"])])
        if e["email"] is not None and ("email", e["email"].strip().lower()) not in junk:
            known.append(person_of[("email", e["email"].strip().lower())])
        assert len(set(known)) <= 1
        for person in known:
            assert owner in (None, person) or (cookie, person) in guests
    assert max(len(c) for p, c in cookies_of.items() if p is not None) >= 2, "people use several devices"


def test_funnel_narrows_and_carts_get_abandoned(events: list[tuple[str, dict]]) -> None:
    sessions_with = defaultdict(set)
    for _, e in events:
        sessions_with[e["event_type"]].add(e["session_id"])
    views, carts = sessions_with["product_view"], sessions_with["add_to_cart"]
    checkouts, purchases = sessions_with["checkout_started"], sessions_with["purchase"]
    assert len(views) > len(carts) > len(checkouts) > len(purchases) > 0
    assert carts - checkouts, "abandoned carts"
    assert checkouts - purchases, "abandoned checkouts"


def test_product_views_follow_latent_category_preferences(
    landing: Path, events: list[tuple[str, dict]], person_of: dict[tuple[str, str], int]
) -> None:
    _, rows = catalog_rows(landing)
    category = {r["product_id"]: r["category"] for r in rows if r["product_id"]}
    people = pq.read_table(landing / "_truth" / "people.parquet").to_pylist()
    top = {p["person_id"]: p["top_categories"] for p in people}
    viewed = defaultdict(Counter)
    for _, e in events:
        owner = person_of.get(("anonymous_id", e["anonymous_id"]))  # None: a junk cookie
        if e["event_type"] == "product_view" and owner is not None:
            viewed[owner][category[e["product"]["product_id"]]] += 1
    heavy = [p for p, c in viewed.items() if sum(c.values()) >= 15]
    hits = sum(viewed[p].most_common(1)[0][0] in top[p][:2] for p in heavy)
    assert len(heavy) > 20 and hits / len(heavy) > 0.8
