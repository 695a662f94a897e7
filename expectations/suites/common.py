"""Expectations several suites share: keys, loaded-row time bounds, "not empty when delivered"."""

from __future__ import annotations

import datetime as dt

import great_expectations.expectations as gxe
from great_expectations.expectations.row_conditions import Column

from expectations.suites import LOADED_THIS_RUN, Table

# No event of this business predates it: an earlier timestamp is a parsing or clock bug.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
# Day folders hold the sender's local days, and UTC offsets reach +14 h; a day of margin on top of that
# still catches the usual bugs (milliseconds read as seconds, a year off, a clock far in the future).
LATE_MARGIN = dt.timedelta(days=2)


def key(column: str) -> list:
    """A primary key: never null, never repeated."""
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=column),
        gxe.ExpectColumnValuesToBeUnique(column=column),
    ]


def loaded_within_run(table: Table, column: str) -> gxe.Expectation:
    """Timestamps of the rows this run loaded lie between EARLIEST and the end of the run date (+ margin)."""
    latest = dt.datetime.combine(table.run_date, dt.time(), tzinfo=dt.UTC) + LATE_MARGIN
    if "time zone" not in table.columns.get(column, "").lower():
        # naive TIMESTAMP columns (UTC by the house rules) compare with naive bounds
        return gxe.ExpectColumnValuesToBeBetween(
            column=column,
            min_value=EARLIEST.replace(tzinfo=None),
            max_value=latest.replace(tzinfo=None),
            row_condition=Column(LOADED_THIS_RUN) == True,  # noqa: E712  (a GX condition, not a comparison)
        )
    return gxe.ExpectColumnValuesToBeBetween(
        column=column,
        min_value=EARLIEST,
        max_value=latest,
        row_condition=Column(LOADED_THIS_RUN) == True,  # noqa: E712  (a GX condition, not a comparison)
    )


def not_empty_when_delivered(table: Table) -> list:
    """When this run read rows for the table that it neither quarantined nor suppressed (load audit), the
    rows checked (the table, or this run's rows of an incremental suite) are not empty."""
    if table.rows_kept_this_run > 0:
        return [gxe.ExpectTableRowCountToBeBetween(min_value=1)]
    return []


def not_empty_when_people(table: Table) -> list:
    """Marts that every person feeds are not empty once marts.user_profiles has people."""
    if (table.rows_of("marts.user_profiles") or 0) > 0:
        return [gxe.ExpectTableRowCountToBeBetween(min_value=1)]
    return []
