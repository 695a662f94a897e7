"""raw_logs.page_visits: web server access log lines that parsed (one row per request)."""

from __future__ import annotations

import great_expectations.expectations as gxe

from expectations.suites import Suite, Table
from expectations.suites.common import loaded_within_run, not_empty_when_delivered


def page_visits(table: Table) -> list:
    return [
        gxe.ExpectColumnValuesToBeBetween(column="status_code", min_value=100, max_value=599),
        gxe.ExpectColumnValuesToNotBeNull(column="url"),
        gxe.ExpectColumnValuesToNotBeNull(column="requested_at"),
        loaded_within_run(table, "requested_at"),
        *not_empty_when_delivered(table),
    ]


SUITES = (Suite("raw_logs.page_visits", "raw", page_visits, optional=True, incremental=True),)
