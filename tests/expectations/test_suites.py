"""The suites themselves: one per dataset, each on a pwh table, in step with the code they mirror."""

from __future__ import annotations

import datetime as dt

from expectations.suites import Table, all_suites, suites_for
from pwh.warehouse import SCHEMAS


def test_one_suite_per_dataset_on_pwh_schemas():
    names = [suite.name for suite in all_suites()]
    assert len(names) == len(set(names))
    assert {name.split(".")[0] for name in names} <= set(SCHEMAS)
    assert all(suite.gate == "raw" for suite in suites_for("raw"))
    assert {suite.table for suite in suites_for("marts")} >= {
        "marts.user_profiles",
        "marts.user_identities",
        "marts.person_features",
        "marts.segment_memberships",
        "marts.user_recommendations",
    }


def test_person_features_suite_covers_every_interest_column():
    from pwh.segments.features import THEMES

    (suite,) = [suite for suite in suites_for("marts") if suite.name == "marts.person_features"]
    columns = {"person_id": "VARCHAR", "recency_score": "INTEGER", "active_days_7d": "BIGINT"}
    columns |= {f"interest_{theme}": "FLOAT" for theme in THEMES}
    columns |= {f"interest_active_days_{theme}_30d": "BIGINT" for theme in THEMES}
    table = Table("marts.person_features", columns, 1, dt.date(2026, 1, 3), "run-1")

    ranges = {
        expectation.column: (expectation.min_value, expectation.max_value)
        for expectation in suite.build(table)
        if expectation.expectation_type == "expect_column_values_to_be_between"
    }

    assert all(ranges[f"interest_{theme}"] == (0, 1) for theme in THEMES)
    assert all(ranges[f"interest_active_days_{theme}_30d"] == (0, 30) for theme in THEMES)
    assert ranges["active_days_7d"] == (0, 7) and ranges["recency_score"] == (1, 5)


def test_recommendation_ranks_end_at_the_recommenders_top_n():
    from expectations.suites.marts_recommendations import TOP_N
    from models_ml.recommendations import TOP_N as RECOMMENDER_TOP_N

    assert TOP_N == RECOMMENDER_TOP_N


def test_the_recommendations_suite_checks_the_columns_the_train_step_writes():
    # the sample never publishes recommendations (too little data to beat popularity), so only the demo
    # would find a suite naming a column the table does not have
    from models_ml.recommendations import RECOMMENDATION_COLUMNS

    (suite,) = [suite for suite in suites_for("marts") if suite.name == "marts.user_recommendations"]
    table = Table(
        suite.table, dict.fromkeys(RECOMMENDATION_COLUMNS, "VARCHAR"), 1, dt.date(2026, 1, 3), "run-1"
    )
    checked = set()
    for expectation in suite.build(table):
        checked |= {getattr(expectation, "column", None)} | set(
            getattr(expectation, "column_list", None) or ()
        )
    checked.discard(None)
    assert checked and checked <= set(RECOMMENDATION_COLUMNS)
