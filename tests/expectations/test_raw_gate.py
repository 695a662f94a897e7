"""The raw gate on small hand-made raw tables: what passes, what fails, and what a failure says."""

from __future__ import annotations

import pytest

from expectations.run import QualityCheckFailed, check
from pwh.pipeline import StepFailed
from tests.expectations.helpers import RUN_DATE, RUN_ID, execute, make_raw_warehouse


def test_clean_raw_tables_pass_and_the_data_docs_show_them(settings):
    make_raw_warehouse(settings.warehouse_path)

    summary = check(settings, RUN_DATE, RUN_ID, "raw")

    assert summary.success and not summary.skipped
    assert [suite.suite for suite in summary.suites] == [
        "raw_events.events",
        "raw_crm.customers",
        "raw_crm.orders",
        "raw_logs.page_visits",
        "raw_catalog.products",
    ]
    assert all(suite.evaluated > 0 for suite in summary.suites)
    assert summary.data_docs == settings.data_dir / "quality" / "data_docs" / "index.html"
    index = summary.data_docs.read_text()
    assert "raw_events.events" in index and RUN_ID in index


def test_a_source_that_delivered_nothing_is_noted_not_failed(settings):
    make_raw_warehouse(settings.warehouse_path, sources=("crm",))

    summary = check(settings, RUN_DATE, RUN_ID, "raw")

    assert summary.success
    assert [suite.suite for suite in summary.skipped] == [
        "raw_events.events",
        "raw_logs.page_visits",
        "raw_catalog.products",
    ]
    assert "not checked: raw_events.events (no such table: its source delivered nothing)" in str(summary)


def test_a_table_missing_although_the_run_read_rows_for_it_fails(settings):
    make_raw_warehouse(settings.warehouse_path, sources=("crm",), audited=("crm", "events"))

    with pytest.raises(QualityCheckFailed) as failed:
        check(settings, RUN_DATE, RUN_ID, "raw")

    assert "raw_events.events: missing, though this run read 2 rows for it (load audit)" in str(failed.value)


@pytest.mark.parametrize(
    ("corruption", "message"),
    [
        # raw_events is checked incrementally: this run's 2 rows (load-1), and e3, an earlier run's, only
        # when it shares their event_id
        (
            "insert into raw_events.events select * from raw_events.events where event_id = 'e1'",
            "raw_events.events: expect_column_values_to_be_unique(event_id) failed: "
            "2 of 3 rows with a duplicated value, e.g. ['e1']",
        ),
        (
            "update raw_events.events set event_id = 'e1' where event_id = 'e3'",
            "raw_events.events: expect_column_values_to_be_unique(event_id) failed: "
            "2 of 3 rows with a duplicated value, e.g. ['e1']",
        ),
        (
            "update raw_events.events set event_type = 'bogus' where event_id = 'e2'",
            "raw_events.events: expect_column_values_to_be_in_set(event_type) failed: "
            "1 of 2 rows not in the allowed set, e.g. ['bogus']",
        ),
        (
            "update raw_logs.page_visits set status_code = 700 where url = '/'",
            "raw_logs.page_visits: expect_column_values_to_be_between(status_code, 100..599) failed: "
            "1 of 2 rows out of range, e.g. [700]",
        ),
        (
            "update raw_catalog.products set price = -5 where product_id = 'P2'",
            "raw_catalog.products: expect_column_values_to_be_between(price, >= 0) failed: "
            "1 of 2 rows out of range, e.g. [-5]",
        ),
        (
            "update raw_crm.customers set customer_id = null where customer_id = 2",
            "raw_crm.customers: expect_column_values_to_not_be_null(customer_id) failed: 1 of 2 rows null",
        ),
        (
            "delete from raw_crm.customers",  # the run read 2 customers (load audit)
            "raw_crm.customers: expect_table_row_count_to_be_between(>= 1) failed: observed 0 rows",
        ),
        (
            "alter table raw_events.events drop column channel",
            "raw_events.events: expect_column_values_to_be_in_set(channel) cannot run: "
            "column channel missing from the table",
        ),
    ],
    ids=[
        "duplicate-id",
        "id-of-an-earlier-run",
        "event-type",
        "status-code",
        "price",
        "null-key",
        "empty-table",
        "missing-column",
    ],
)
def test_a_bad_table_fails_with_the_expectation_column_and_values(settings, corruption, message):
    make_raw_warehouse(settings.warehouse_path)
    execute(settings.warehouse_path, corruption)

    with pytest.raises(StepFailed) as failed:  # a StepFailed: the pipeline stops before publishing
        check(settings, RUN_DATE, RUN_ID, "raw")

    assert isinstance(failed.value, QualityCheckFailed)
    assert message in str(failed.value)
    assert failed.value.summary.failures == (message,)
    assert failed.value.summary.data_docs.exists()  # the docs show the failed run too


def test_an_incremental_suite_reads_only_this_runs_rows(settings):
    make_raw_warehouse(settings.warehouse_path)
    # an earlier run's row is not read again (that run's gate checked it) unless its key collides
    execute(
        settings.warehouse_path, "update raw_events.events set event_type = 'bogus' where event_id = 'e3'"
    )

    summary = check(settings, RUN_DATE, RUN_ID, "raw")

    assert summary.success


def test_time_bounds_apply_to_the_rows_this_run_loaded(settings):
    make_raw_warehouse(settings.warehouse_path)
    # an earlier run's row (load-0) far after this run's date: running an older date again is fine
    execute(
        settings.warehouse_path,
        "insert into raw_events.events values ('e9', 'login', '2030-01-01 00:00:00+00', 'a9', 'web', 'load-0')",
    )
    assert check(settings, RUN_DATE, RUN_ID, "raw").success

    execute(
        settings.warehouse_path, "update raw_events.events set _dlt_load_id = 'load-1' where event_id = 'e9'"
    )
    with pytest.raises(QualityCheckFailed) as failed:
        check(settings, RUN_DATE, RUN_ID, "raw")
    assert (
        "raw_events.events: expect_column_values_to_be_between(occurred_at, "
        "2000-01-01 00:00:00+00:00..2024-03-04 00:00:00+00:00) failed: 1 of 3 rows out of range "
        "among the rows loaded by this run, e.g. [2030-01-01 00:00:00+00:00]"
    ) in str(failed.value)


def test_the_data_docs_show_the_last_run_only(settings):
    make_raw_warehouse(settings.warehouse_path)
    check(settings, RUN_DATE, RUN_ID, "raw")
    execute(settings.warehouse_path, "update audit.load_audit set run_id = 'run-2'")

    summary = check(settings, RUN_DATE, "run-2", "raw")

    index = summary.data_docs.read_text()
    assert "run-2" in index and RUN_ID not in index
    results = list((settings.data_dir / "quality" / "gx" / "uncommitted" / "validations").rglob("*.json"))
    assert len(results) == len(summary.suites)


def test_an_unknown_gate_or_a_missing_warehouse_is_an_error(settings):
    with pytest.raises(ValueError, match="unknown gate 'staging'"):
        check(settings, RUN_DATE, RUN_ID, "staging")
    with pytest.raises(StepFailed, match="raw checks: no warehouse at"):
        check(settings, RUN_DATE, RUN_ID, "raw")
