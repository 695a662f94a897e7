"""marts.segment_memberships: who is in which segment on the run date (one row per segment and person)."""

from __future__ import annotations

import great_expectations.expectations as gxe

from expectations.suites import Suite, Table
from expectations.suites.common import not_empty_when_people


def segment_memberships(table: Table) -> list:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="person_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="segment_name"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["segment_name", "person_id"]),
        *not_empty_when_people(table),
    ]


SUITES = (Suite("marts.segment_memberships", "marts", segment_memberships),)
