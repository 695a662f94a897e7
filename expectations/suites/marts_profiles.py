"""marts.user_profiles and marts.person_features: one row per person, read by BI, segments and exports."""

from __future__ import annotations

import re

import great_expectations.expectations as gxe

from expectations.suites import Suite, Table
from expectations.suites.common import key

SCORES = ("recency_score", "frequency_score", "monetary_score")


def _between(column: str, low: float | None, high: float | None = None) -> gxe.Expectation:
    return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)


def user_profiles(table: Table) -> list:
    return [
        *key("person_id"),
        *(_between(score, 1, 5) for score in SCORES),
        _between("top_theme_score", 0, 1),
        _between("days_since_last_visit", 0),
        _between("days_since_last_order", 0),
        _between("favourite_order_hour_utc", 0, 23),
    ]


# counts over a window: 0 or more, and day counts no more than the window's days
_COUNT = re.compile(r"^(page_views|product_views|add_to_carts|sessions|purchases|active_days)_(\d+d|total)$")
_INTEREST = re.compile(r"^interest_(?!active_days_)\w+$")  # one per page theme: interest_music, ...
_INTEREST_DAYS = re.compile(r"^interest_active_days_\w+_(\d+)d$")


def person_features(table: Table) -> list:
    found: list = [*key("person_id"), *(_between(score, 1, 5) for score in SCORES)]
    for column in table.columns:
        if count := _COUNT.match(column):
            window = count.group(2)
            is_days = count.group(1) == "active_days" and window != "total"
            found.append(_between(column, 0, int(window[:-1]) if is_days else None))
        elif _INTEREST.match(column):
            found.append(_between(column, 0, 1))
        elif days := _INTEREST_DAYS.match(column):
            found.append(_between(column, 0, int(days.group(1))))
        elif column.startswith(("days_since_", "hours_since_")):
            found.append(_between(column, 0))
    return found


SUITES = (
    Suite("marts.user_profiles", "marts", user_profiles),
    Suite("marts.person_features", "marts", person_features),
)
