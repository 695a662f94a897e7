"""The CRM database (`crm.sqlite`): customers with realistic duplicates, orders and order items.

About 70% of people are customers. Some have extra records of themselves (typos, swapped names,
another email, phone or address written differently), which is what entity resolution must undo.
Orders before the window are generated here; orders inside it come from the purchase events, so the
two sources agree. Order ids grow with `ordered_at`.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pwh.generate import vocab
from pwh.generate.catalog import Catalog
from pwh.generate.people import Population
from pwh.generate.sampling import cumulative, sample_rows

CUSTOMER_SHARE = 0.70
DUPLICATE_SHARE = 0.08
DELETED_SHARE = 0.03
SIGNUP_IN_WINDOW_SHARE = 0.06
FIRST_CUSTOMER_ID = 10001
FIRST_ORDER_ID = 100001
STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
DAY = 86400

DDL = (
    """CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT,
    phone TEXT, birth_date DATE, gender TEXT, street_address TEXT, city TEXT, postcode TEXT, country TEXT,
    marketing_opt_in BOOLEAN, created_at TIMESTAMP, updated_at TIMESTAMP, is_deleted BOOLEAN)""",
    """CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER, ordered_at TIMESTAMP,
    status TEXT, currency TEXT, total_amount NUMERIC, updated_at TIMESTAMP)""",
    """CREATE TABLE order_items (order_id INTEGER, product_id TEXT, quantity INTEGER, unit_price NUMERIC,
    PRIMARY KEY (order_id, product_id))""",
)


@dataclass
class Crm:
    """Customer records (one row per record) and, per person, the records that person owns."""

    customer_id: np.ndarray
    person: np.ndarray
    created_s: np.ndarray  # epoch seconds
    is_deleted: np.ndarray
    login_email: list[str]  # the address a person types to log in to this record (lower case)
    # records are grouped by person, the person's main record first
    first_record: np.ndarray  # per person: index of the main record
    record_count: np.ndarray  # per person: 0 for people who are not customers

    def pick_records(self, persons: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The record each session logs in with: mostly the main one, sometimes an old duplicate; -1: none."""
        count = self.record_count[persons]
        alternative = (count > 1) & (rng.random(len(persons)) < 0.15)
        offset = np.where(alternative, 1 + (rng.random(len(persons)) * (count - 1)).astype(np.int64), 0)
        return np.where(count > 0, self.first_record[persons] + offset, -1)

    def signups(self, day_start_s: int) -> tuple[np.ndarray, np.ndarray]:
        """Main records created on the day starting at day_start_s: (person, created_s)."""
        main = self.first_record[self.record_count > 0]
        on_day = main[(self.created_s[main] >= day_start_s) & (self.created_s[main] < day_start_s + DAY)]
        return self.person[on_day], self.created_s[on_day]


@dataclass
class OrderBatch:
    """Orders to insert; items refer to orders by position in this batch."""

    record: np.ndarray  # customer record index per order
    ordered_s: np.ndarray
    currency: np.ndarray  # index into vocab.CURRENCIES
    item_order: np.ndarray
    item_product: np.ndarray
    item_quantity: np.ndarray
    item_price: np.ndarray


def sql_timestamps(seconds: np.ndarray) -> list[str]:
    """Epoch seconds as 'YYYY-MM-DD HH:MM:SS' (naive UTC) strings."""
    text = np.datetime_as_string(np.asarray(seconds, dtype="datetime64[s]"), unit="s")
    return [t.replace("T", " ") for t in text.tolist()]


def open_crm(path: Path) -> sqlite3.Connection:
    """A fresh, empty crm.sqlite with the three tables."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    for statement in DDL:
        conn.execute(statement)
    return conn


def make_customers(
    pop: Population, rng: np.random.Generator, window_start_s: int, window_end_s: int, days: int
) -> tuple[Crm, list[tuple]]:
    """Customer records of the population plus the rows for the customers table."""
    is_customer = rng.random(pop.n) < CUSTOMER_SHARE
    is_customer[0] = True  # never an empty CRM, however small the population
    customers = np.flatnonzero(is_customer)
    n_extra = rng.choice([1, 2], size=len(customers), p=[0.7, 0.3])
    n_extra[rng.random(len(customers)) >= DUPLICATE_SHARE] = 0
    person = np.repeat(customers, 1 + n_extra)
    is_main = np.ones(len(person), dtype=bool)
    is_main[1:] = person[1:] != person[:-1]
    n = len(person)

    # main records: a few sign up during the window (their signup event is generated on that day)
    in_window = is_main & (rng.random(n) < SIGNUP_IN_WINDOW_SHARE)
    signup_day = rng.integers(0, days, size=n)
    created = np.where(
        in_window,
        window_start_s + signup_day * DAY + rng.integers(7 * 3600, 21 * 3600, size=n),
        window_start_s - rng.integers(DAY, 3 * 365 * DAY, size=n),
    )
    # duplicates are older, forgotten accounts
    created = np.where(is_main, created, window_start_s - rng.integers(30 * DAY, 4 * 365 * DAY, size=n))
    customer_id = np.empty(n, dtype=np.int64)
    customer_id[np.argsort(created, kind="stable")] = FIRST_CUSTOMER_ID + np.arange(n)
    is_deleted = rng.random(n) < DELETED_SHARE
    since = np.maximum(created, window_start_s)
    touched = is_deleted | (rng.random(n) < 0.7)
    updated = np.where(touched, since + (rng.random(n) * (window_end_s - since)).astype(np.int64), created)

    used_emails = set(pop.email)
    fields = [_record_fields(pop, p, main, used_emails, rng) for p, main in zip(person, is_main, strict=True)]
    login_email = [(f[0] or pop.email[p]).strip().lower() for f, p in zip(fields, person, strict=True)]
    created_text, updated_text = sql_timestamps(created), sql_timestamps(updated)
    opt_in = rng.random(n) < 0.4
    columns = (customer_id.tolist(), fields, opt_in.astype(int).tolist(), created_text, updated_text,
               is_deleted.astype(int).tolist())  # fmt: skip
    rows = sorted((cid, *f, opt, c, u, deleted) for cid, f, opt, c, u, deleted in zip(*columns, strict=True))
    count = np.bincount(person, minlength=pop.n)
    crm = Crm(customer_id, person, created, is_deleted, login_email, np.cumsum(count) - count, count)
    return crm, rows


def write_customers(conn: sqlite3.Connection, rows: list[tuple]) -> None:
    conn.executemany(f"INSERT INTO customers VALUES ({','.join('?' * 15)})", rows)


def historical_orders(
    crm: Crm, pop: Population, catalog: Catalog, rng: np.random.Generator, window_start_s: int
) -> OrderBatch:
    """Orders placed before the window, driven by each person's category preferences."""
    alive = ~crm.is_deleted & (crm.created_s < window_start_s - DAY)
    per_record = np.where(alive, rng.poisson(0.8 * pop.activity[crm.person]), 0)
    record = np.repeat(np.arange(len(per_record)), per_record)
    n_items = np.minimum(rng.geometric(0.6, size=len(record)), 5)
    item_order = np.repeat(np.arange(len(record)), n_items)
    persons = crm.person[record[item_order]]
    categories = sample_rows(cumulative(pop.category_pref), persons, rng)
    product = catalog.sample(categories, -30, rng)
    # an order starts after its customer's signup and after all its products launched
    latest_launch = np.full(len(record), -10_000)
    np.maximum.at(latest_launch, item_order, catalog.launch_day[product])
    lower = np.maximum(crm.created_s[record], window_start_s + (latest_launch + 1) * DAY)
    upper = window_start_s - 3600
    ordered = lower + (rng.random(len(record)) * np.maximum(upper - lower, 0)).astype(np.int64)
    # drop orders that do not fit before the window; a product picked twice becomes one line
    keep = lower < upper
    item_keep = keep[item_order]
    key = np.unique((np.cumsum(keep) - 1)[item_order[item_keep]] * catalog.n + product[item_keep])
    item_order, item_product = key // catalog.n, key % catalog.n
    currency = person_currency(pop)[crm.person[record[keep]]]
    quantity = rng.choice([1, 2, 3], size=len(key), p=[0.85, 0.11, 0.04])
    price = catalog.price_table()[item_product, currency[item_order]]
    return OrderBatch(record[keep], ordered[keep], currency, item_order, item_product, quantity, price)


def person_currency(pop: Population) -> np.ndarray:
    """Index into vocab.CURRENCIES of the shop currency each person pays in (by country)."""
    by_country = np.array([vocab.CURRENCIES.index(c.currency) for c in vocab.COUNTRIES])
    return by_country[pop.country]


def order_status(
    ordered_s: np.ndarray, now_s: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Status (index into STATUSES) and updated_at of each order as of now_s.

    Orders get paid, shipped and delivered over a few days; some are cancelled or returned.
    """
    n, never = len(ordered_s), np.iinfo(np.int64).max
    paid = ordered_s + rng.integers(60, 1800, size=n)
    shipped = paid + rng.integers(DAY // 2, 2 * DAY, size=n)
    delivered = shipped + rng.integers(DAY, 4 * DAY, size=n)
    cancelled = rng.random(n) < 0.04
    returned = ~cancelled & (rng.random(n) < 0.04)
    # one column per status in STATUSES order: when the order reached it (never, if it does not)
    stage_times = np.stack(
        [
            ordered_s, paid, np.where(cancelled, never, shipped), np.where(cancelled, never, delivered),
            np.where(cancelled, ordered_s + rng.integers(300, DAY // 2, size=n), never),
            np.where(returned, delivered + rng.integers(2 * DAY, 20 * DAY, size=n), never),
        ],
        axis=1,
    )  # fmt: skip
    # the latest status already reached wins
    happened = stage_times <= now_s
    status = np.where(happened, np.arange(6), -1).max(axis=1)
    updated = stage_times[np.arange(n), status]
    return status, updated


def insert_orders(
    conn: sqlite3.Connection,
    crm: Crm,
    batch: OrderBatch,
    product_ids: list[str],
    next_id: int,
    now_s: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Insert a batch with ids increasing with ordered_at (from next_id); returns the id of each order."""
    rank = np.empty(len(batch.ordered_s), dtype=np.int64)
    rank[np.lexsort((batch.record, batch.ordered_s))] = np.arange(len(batch.ordered_s))
    order_id = next_id + rank
    totals = np.zeros(len(order_id))
    np.add.at(totals, batch.item_order, batch.item_quantity * batch.item_price)
    status, updated = order_status(batch.ordered_s, now_s, rng)
    orders = zip(
        order_id.tolist(), crm.customer_id[batch.record].tolist(), sql_timestamps(batch.ordered_s),
        [STATUSES[s] for s in status], [vocab.CURRENCIES[c] for c in batch.currency],
        np.round(totals, 2).tolist(), sql_timestamps(updated), strict=True,
    )  # fmt: skip
    conn.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)", sorted(orders))
    items = zip(
        order_id[batch.item_order].tolist(), [product_ids[p] for p in batch.item_product],
        batch.item_quantity.tolist(), batch.item_price.tolist(), strict=True,
    )  # fmt: skip
    conn.executemany("INSERT INTO order_items VALUES (?, ?, ?, ?)", sorted(items))
    return order_id


# --- messy record fields --------------------------------------------------------------------------------

GENDER_LONG = {"F": "female", "M": "male", "X": "other"}


def _record_fields(pop: Population, p: int, is_main: bool, used: set[str], rng: np.random.Generator) -> tuple:
    """(email, first, last, phone, birth_date, gender, street, city, postcode, country) of one record."""
    u = rng.random(13)
    country = vocab.COUNTRIES[pop.country[p]]
    first, last, email = pop.first_name[p], pop.last_name[p], pop.email[p]
    street, postcode = pop.street[p], pop.postcode[p]
    phone_format = int(u[0] * 4)
    if not is_main:
        # a duplicate differs from the main record in one to three ways
        changes = rng.choice(6, size=1 + int(u[1] * 3), replace=False)
        if 0 in changes:
            first, last = (_typo(first, rng), last) if u[2] < 0.5 else (first, _typo(last, rng))
        if 1 in changes:
            first, last = last, first
        if 2 in changes:
            email = _other_email(first, last, used, rng)
        if 3 in changes:
            email = _email_variant(email, used, rng)
        if 4 in changes:
            phone_format = (phone_format + 1 + int(u[3] * 3)) % 4
        if 5 in changes:
            street, postcode = (
                _abbreviate(street),
                postcode.replace(" ", "") if u[4] < 0.5 else postcode.lower(),
            )
    if u[5] < 0.10:
        email = _odd_case(email, rng)
    if u[6] < 0.04:
        email = f" {email} " if u[7] < 0.5 else f"{email} "
    if u[6] > 0.98:
        email = None
    if u[8] < 0.03:
        last = last.upper()
    phone = None if u[9] < 0.05 else format_phone(country, pop.phone_nsn[p], phone_format)
    birth = None if u[10] < 0.06 else str(pop.birth_date[p])
    gender = str(pop.gender[p])
    gender = None if u[11] < 0.07 else GENDER_LONG[gender] if u[11] > 0.92 else gender
    country_text = country.code if u[12] > 0.15 else country.name if u[12] > 0.05 else country.code.lower()
    return (email, first, last, phone, birth, gender, street, pop.city[p], postcode, country_text)


def format_phone(country: vocab.Country, nsn: str, style: int) -> str:
    """One of four common ways to write the same number: +44 20 7946 0958, 020-7946-0958, ..."""
    groups, start = [], 0
    for size in country.groups:
        groups.append(nsn[start : start + size])
        start += size
    if style == 0:
        return f"+{country.dial_code} {' '.join(groups)}"
    if style == 1:
        if not country.trunk:
            return f"({groups[0]}) {groups[1]}-{''.join(groups[2:])}"
        return f"{country.trunk}{' '.join(groups)}"
    if style == 2:
        return country.trunk + "-".join(groups)
    return f"00{country.dial_code}{nsn}"


def _typo(name: str, rng: np.random.Generator) -> str:
    if len(name) < 3:
        return name + name[-1]
    i = int(rng.integers(1, len(name) - 1))
    kind = int(rng.integers(3))
    if kind == 0:
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]  # swapped letters
    if kind == 1:
        return name[:i] + name[i + 1 :]  # dropped letter
    return name[:i] + name[i] + name[i:]  # doubled letter


def _other_email(first: str, last: str, used: set[str], rng: np.random.Generator) -> str:
    """Another mailbox of the same person, never one somebody else has."""
    local = f"{first[0]}{last}".lower().replace(" ", "")
    while True:
        domain = vocab.EMAIL_DOMAINS[int(rng.integers(len(vocab.EMAIL_DOMAINS)))]
        email = f"{local}{int(rng.integers(100, 100_000))}@{domain}"
        if email not in used:
            used.add(email)
            return email


def _email_variant(email: str, used: set[str], rng: np.random.Generator) -> str:
    """The same address with dots dropped or added (Gmail ignores them) and another case."""
    local, domain = email.split("@")
    if "." in local:
        local = local.replace(".", "")
    elif len(local) > 3:
        i = int(rng.integers(1, len(local) - 1))
        local = f"{local[:i]}.{local[i:]}"
    variant = f"{local}@{domain}"
    if variant in used:  # somebody else's address: only change the case
        variant = email
    used.add(variant)
    return _odd_case(variant, rng)


def _odd_case(email: str, rng: np.random.Generator) -> str:
    style = int(rng.integers(3))
    if style == 0:
        return email.upper()
    if style == 1:
        local, domain = email.split("@")
        return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain.capitalize()
    return email.capitalize()


def _abbreviate(street: str) -> str:
    for long, short in vocab.STREET_ABBREVIATIONS:
        if long in street:
            return street.replace(long, short)
    return street


def window_seconds(start: dt.date, days: int) -> tuple[int, int]:
    """Epoch seconds of the window start and end (UTC midnight)."""
    epoch = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp()
    return int(epoch), int(epoch) + days * DAY
