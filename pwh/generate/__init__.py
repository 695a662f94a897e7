"""Sample data generator: realistic, messy source data in a landing directory.

One latent population of people (`people.py`) is observed through four sources: the CRM database
(`crm.py`), shop analytics events (`events.py`), magazine access logs (`logs.py`) and the product
catalog (`catalog.py`). `_truth/` (`truth.py`) records what the pipeline has to rediscover. Output is
byte-for-byte reproducible for the same arguments: all randomness comes from generators seeded with
(seed, stage, day), and gzip headers carry no timestamp.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np

from pwh.generate import events, logs
from pwh.generate.catalog import make_catalog, write_catalog
from pwh.generate.crm import (
    DAY,
    FIRST_ORDER_ID,
    historical_orders,
    insert_orders,
    make_customers,
    open_crm,
    window_seconds,
    write_customers,
)
from pwh.generate.lines import BadLine
from pwh.generate.people import make_population
from pwh.generate.truth import FILES as TRUTH_FILES
from pwh.generate.truth import write_truth

__all__ = ["GenerateSummary", "generate"]

log = logging.getLogger(__name__)

# independent random streams per stage (and per day), so one stage's draws never shift another's
PEOPLE, CATALOG, CUSTOMERS, HISTORY, MAGAZINE, DAY_EVENTS, DAY_ORDERS, DAY_EVENT_FILES, DAY_LOGS = range(9)


@dataclass
class GenerateSummary:
    """What generate() wrote. events and log_lines count good lines; bad lines are in bad_rows."""

    people: int = 0
    customers: int = 0
    orders: int = 0
    order_items: int = 0
    events: int = 0
    log_lines: int = 0
    products: int = 0
    bad_rows: dict[str, int] = field(default_factory=lambda: {"events": 0, "logs": 0, "catalog": 0})
    files_written: int = 0
    seconds: float = 0.0


def generate(
    landing_dir: Path,
    *,
    users: int = 2000,
    days: int = 14,
    seed: int = 42,
    start_date: dt.date = dt.date(2026, 1, 1),
    bad_share: float = 0.005,
    progress: Callable[[str], None] | None = None,
) -> GenerateSummary:
    """Write sample sources for `users` people over `days` days from `start_date` into landing_dir.

    About 10 events per person and day; memory grows with the events of one day, not with `days`.
    """
    if users < 1 or days < 1 or not 0 <= bad_share <= 0.5 or seed < 0:
        raise ValueError("need users >= 1, days >= 1, 0 <= bad_share <= 0.5 and seed >= 0")
    began = time.perf_counter()
    landing_dir = Path(landing_dir)
    landing_dir.mkdir(parents=True, exist_ok=True)

    def rng(*stream: int) -> np.random.Generator:
        return np.random.default_rng([seed, *stream])

    def report(message: str) -> None:
        log.info("generate: %s", message)
        if progress is not None:
            progress(message)

    summary = GenerateSummary(people=users)
    bad_rows: list[tuple[str, str, BadLine]] = []
    junk: Counter[tuple[str, str]] = Counter()  # placeholder identifiers in the events
    window_start_s, window_end_s = window_seconds(start_date, days)

    pop = make_population(users, rng(PEOPLE), start_date)
    catalog = make_catalog(int(np.clip(users // 2, 300, 20_000)), days, start_date, rng(CATALOG))
    catalog_bad = write_catalog(landing_dir / "catalog" / "products.csv", catalog, rng(CATALOG, 1), bad_share)
    bad_rows += [("catalog", "catalog/products.csv", b) for b in catalog_bad]
    summary.products = catalog.n
    report(f"{users} people, {catalog.n} products")

    crm, customer_rows = make_customers(pop, rng(CUSTOMERS), window_start_s, window_end_s, days)
    db = open_crm(landing_dir / "crm.sqlite")
    write_customers(db, customer_rows)
    history = historical_orders(crm, pop, catalog, rng(HISTORY), window_start_s)
    insert_orders(db, crm, history, catalog.product_id, FIRST_ORDER_ID, window_end_s, rng(HISTORY, 1))
    summary.customers = len(customer_rows)
    summary.orders, summary.order_items = len(history.ordered_s), len(history.item_order)
    report(f"crm: {summary.customers} customer records, {summary.orders} orders before {start_date}")

    context = events.EventContext.build(pop, catalog, crm, window_start_s)
    magazine = logs.build_magazine(rng(MAGAZINE))
    con = duckdb.connect()  # in memory, only renders lines
    con.execute("SET enable_progress_bar = false")
    try:
        for day in range(days):
            date_text = (start_date + dt.timedelta(days=day)).isoformat()
            day_events, orders = events.simulate_day(context, day, rng(DAY_EVENTS, day))
            junk.update(events.junk_identifiers(context, day_events))
            # purchases become orders first: the events carry their order ids
            next_id = FIRST_ORDER_ID + summary.orders
            order_ids = insert_orders(
                db, crm, orders, catalog.product_id, next_id, window_end_s, rng(DAY_ORDERS, day)
            )
            summary.orders += len(orders.ordered_s)
            summary.order_items += len(orders.item_order)
            event_bad, event_files = events.write_day(
                landing_dir,
                date_text,
                context,
                day_events,
                order_ids,
                rng(DAY_EVENT_FILES, day),
                bad_share,
                con,
            )
            day_log = logs.simulate_day(magazine, pop, window_start_s + day * DAY, rng(DAY_LOGS, day))
            log_bad, log_files = logs.write_day(
                landing_dir, date_text, magazine, pop, day_log, rng(DAY_LOGS, day, 1), bad_share, con
            )
            # replaced lines are lost events; inserted ones (duplicates, garbage) come on top
            summary.events += len(day_events) - _replaced(event_bad, events.CORRUPTIONS)
            summary.log_lines += len(day_log) - _replaced(log_bad, logs.CORRUPTIONS)
            bad_rows += [("events", f, b) for f, b in event_bad] + [("logs", f, b) for f, b in log_bad]
            summary.files_written += event_files + log_files
            report(
                f"{date_text}: {len(day_events)} events, {len(day_log)} log lines, {len(order_ids)} orders"
            )
        db.commit()
    finally:
        con.close()
        db.close()

    write_truth(landing_dir / "_truth", pop, crm, magazine, bad_rows, junk)
    _warn_about_other_days(landing_dir, start_date, days)
    summary.bad_rows.update(Counter(source for source, _, _ in bad_rows))
    summary.files_written += 2 + len(TRUTH_FILES)  # crm.sqlite, products.csv
    summary.seconds = round(time.perf_counter() - began, 2)
    report(f"done in {summary.seconds:.1f} s")
    return summary


def _replaced(bad: list[tuple[str, BadLine]], corruptions: tuple) -> int:
    replacing = {c.kind for c in corruptions if not c.inserted}
    return sum(b.kind in replacing for _, b in bad)


def _warn_about_other_days(landing_dir: Path, start_date: dt.date, days: int) -> None:
    """Day folders from an earlier, longer run are left alone but would not match this run's CRM."""
    written = {(start_date + dt.timedelta(days=d)).isoformat() for d in range(days)}
    for kind in ("events", "logs"):
        others = sorted(
            p.name for p in (landing_dir / kind).iterdir() if p.is_dir() and p.name not in written
        )
        if others:
            log.warning("generate: %s/ also holds days this run did not write: %s", kind, ", ".join(others))
