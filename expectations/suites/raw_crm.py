"""raw_crm.customers and raw_crm.orders: the CRM tables as dlt merged them (one row per record)."""

from __future__ import annotations

import great_expectations.expectations as gxe

from expectations.suites import Suite, Table
from expectations.suites.common import key, not_empty_when_delivered


def customers(table: Table) -> list:
    return [*key("customer_id"), *not_empty_when_delivered(table)]


def orders(table: Table) -> list:
    return [
        *key("order_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
        gxe.ExpectColumnValuesToBeBetween(column="total_amount", min_value=0),
        *not_empty_when_delivered(table),
    ]


SUITES = (
    Suite("raw_crm.customers", "raw", customers, optional=True),
    Suite("raw_crm.orders", "raw", orders, optional=True),
)
