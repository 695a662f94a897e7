"""Both gates on a warehouse the real pipeline steps built, and on corrupted copies of it."""

from __future__ import annotations

import duckdb
import pytest

from expectations.run import QualityCheckFailed, check
from tests.sample import SAMPLE_RUN_DATE

pytestmark = pytest.mark.slow  # reads the session's `pwh run` of the sample (about a minute, once)


def _execute(settings, sql: str) -> None:
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(sql)


def test_the_pipelines_warehouse_passes_both_gates(warehouse_copy, built_run_id):
    settings = warehouse_copy()

    raw = check(settings, SAMPLE_RUN_DATE, built_run_id, "raw")
    marts = check(settings, SAMPLE_RUN_DATE, built_run_id, "marts")

    assert raw.success and not raw.skipped and all(suite.rows > 0 for suite in raw.suites)
    assert marts.success
    # recommendations exist only when the sample lets the model beat popularity: either is fine
    assert {suite.suite for suite in marts.skipped} <= {"marts.user_recommendations"}
    index = marts.data_docs.read_text()
    assert "raw_events.events" in index and "marts.user_profiles" in index  # both gates of the last run


def test_a_duplicated_event_fails_the_raw_gate(warehouse_copy, built_run_id):
    settings = warehouse_copy()
    _execute(
        settings, "insert into raw_events.events select * from raw_events.events order by event_id limit 1"
    )
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        (first,) = con.execute("select min(event_id) from raw_events.events").fetchone()

    with pytest.raises(QualityCheckFailed) as failed:
        check(settings, SAMPLE_RUN_DATE, built_run_id, "raw")

    assert "raw_events.events: expect_column_values_to_be_unique(event_id) failed: 2 of " in str(failed.value)
    assert f"rows with a duplicated value, e.g. [{first!r}]" in str(failed.value)
    assert len(failed.value.summary.failures) == 1


def test_corrupted_marts_fail_the_marts_gate_naming_each_problem(warehouse_copy, built_run_id):
    settings = warehouse_copy()
    _execute(
        settings,
        """
        update marts.user_profiles set person_id = null where person_id = (select min(person_id) from marts.user_profiles);
        update marts.person_features set interest_music = 1.5 where person_id = (select min(person_id) from marts.person_features);
        delete from marts.segment_memberships;
        drop table if exists marts.user_recommendations;
        create table marts.user_recommendations as
            select 'p1' as person_id, 'i1' as product_id, 11 as rank, 0.5 as score, 'v1' as model_version;
        drop table marts.user_identities;
        """,
    )

    with pytest.raises(QualityCheckFailed) as failed:
        check(settings, SAMPLE_RUN_DATE, built_run_id, "marts")

    message = str(failed.value)
    assert "marts.user_profiles: expect_column_values_to_not_be_null(person_id) failed: 1 of " in message
    assert (
        "marts.person_features: expect_column_values_to_be_between(interest_music, 0..1) failed: " in message
    )
    assert "e.g. [1.5]" in message
    assert (
        "marts.segment_memberships: expect_table_row_count_to_be_between(>= 1) failed: observed 0 rows"
        in message
    )
    assert (
        "marts.user_recommendations: expect_column_values_to_be_between(rank, 1..10) failed: "
        "1 of 1 rows out of range, e.g. [11]"
    ) in message
    assert "marts.user_identities: missing from the warehouse" in message
    assert len(failed.value.summary.failures) == 5
