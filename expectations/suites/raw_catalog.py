"""raw_catalog.products: the product catalogue (one row per product)."""

from __future__ import annotations

import great_expectations.expectations as gxe

from expectations.suites import Suite, Table
from expectations.suites.common import key, not_empty_when_delivered


def products(table: Table) -> list:
    return [
        *key("product_id"),
        gxe.ExpectColumnValuesToBeBetween(column="price", min_value=0),
        *not_empty_when_delivered(table),
    ]


SUITES = (Suite("raw_catalog.products", "raw", products, optional=True),)
