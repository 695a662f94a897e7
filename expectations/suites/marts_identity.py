"""marts.user_identities: every identifier pwh has seen and the person it belongs to (one row per identifier)."""

from __future__ import annotations

import great_expectations.expectations as gxe

from expectations.suites import Suite, Table

# the identifier kinds models_ml/identities.py stitches
IDENTIFIER_TYPES = ["customer_id", "user_id", "email", "anonymous_id"]


def user_identities(table: Table) -> list:
    return [
        gxe.ExpectColumnValuesToBeInSet(column="identifier_type", value_set=IDENTIFIER_TYPES),
        gxe.ExpectColumnValuesToNotBeNull(column="identifier_type"),
        gxe.ExpectColumnValuesToNotBeNull(column="identifier_value"),
        gxe.ExpectColumnValuesToNotBeNull(column="person_id"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["identifier_type", "identifier_value"]),
    ]


SUITES = (Suite("marts.user_identities", "marts", user_identities),)
