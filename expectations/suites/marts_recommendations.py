"""marts.user_recommendations: each person's top items (one row per person and rank).

The table exists only once a trained model has beaten the popularity baseline, so its suite is optional.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

from expectations.suites import Suite, Table

# models_ml.recommendations.TOP_N; not imported, to keep the recommender out of the check's imports
TOP_N = 10


def user_recommendations(table: Table) -> list:
    return [
        gxe.ExpectColumnValuesToNotBeNull(column="person_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="product_id"),
        gxe.ExpectColumnValuesToNotBeNull(column="score"),
        gxe.ExpectColumnValuesToBeBetween(column="rank", min_value=1, max_value=TOP_N),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["person_id", "rank"]),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["person_id", "product_id"]),
    ]


SUITES = (Suite("marts.user_recommendations", "marts", user_recommendations, optional=True),)
