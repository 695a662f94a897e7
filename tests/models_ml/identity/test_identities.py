"""The identity step on a real DuckDB warehouse holding hand-made observations: ids, guards, merges."""

from __future__ import annotations

import datetime as dt

import pytest

from models_ml.identities import stitch_identities
from pwh.warehouse import connect

DAY = dt.date(2026, 1, 10)


def observe(settings, rows: list[tuple]) -> None:
    """Replace intermediate.int_identifiers_observed with rows of
    (source, customer_id, user_id, email, anonymous_id, first_seen_at)."""
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with connect(settings.warehouse_path) as con:
        con.execute("create schema if not exists intermediate")
        con.execute(
            """
            create or replace table intermediate.int_identifiers_observed (
                source varchar, customer_id varchar, user_id varchar, email varchar, anonymous_id varchar,
                first_seen_at timestamp, last_seen_at timestamp, sightings bigint
            )
            """
        )
        for row in rows:
            con.execute(
                "insert into intermediate.int_identifiers_observed values (?, ?, ?, ?, ?, ?, ?, 1)",
                [*row, row[-1]],
            )


def identity_map(settings) -> dict[tuple[str, str], tuple[str, str | None]]:
    with connect(settings.warehouse_path, read_only=True) as con:
        rows = con.execute(
            "select identifier_type, identifier_value, person_id, guard_reason from ml.identity_map"
        ).fetchall()
    return {(kind, value): (person, guard) for kind, value, person, guard in rows}


HOUSEHOLD = [
    ("crm", "1", None, "ann@example.net", None, "2025-01-01"),
    ("crm", "2", None, "bob@example.net", None, "2025-02-01"),
    ("events", None, "1", None, "ipad", "2026-01-02"),
    ("events", None, "2", None, "ipad", "2026-01-03"),
    ("events", None, "1", "ann@example.net", "ann-phone", "2026-01-04"),
    ("events", None, None, "carl@example.org", "carl-laptop", "2026-01-05"),
]


@pytest.fixture
def household(settings):
    observe(settings, HOUSEHOLD)
    return settings


def test_people_are_stitched_and_a_shared_device_is_kept_apart(household):
    summary = stitch_identities(household, DAY, "run-1")
    people = identity_map(household)
    ann = people[("customer_id", "1")][0]
    assert people[("user_id", "1")][0] == people[("email", "ann@example.net")][0] == ann
    assert people[("anonymous_id", "ann-phone")][0] == ann
    assert people[("customer_id", "2")][0] != ann
    assert people[("anonymous_id", "ipad")][1] == "shared"
    assert people[("anonymous_id", "ipad")][0] not in (ann, people[("customer_id", "2")][0])
    assert people[("email", "carl@example.org")][0] == people[("anonymous_id", "carl-laptop")][0]
    assert summary.shared == 1 and summary.people == 4 and summary.merges == 0


def test_person_ids_are_the_same_when_rebuilt_from_scratch(household, tmp_path, monkeypatch):
    from tests.conftest import settings_for

    stitch_identities(household, DAY, "run-1")
    first = identity_map(household)
    (tmp_path / "elsewhere").mkdir()
    fresh = settings_for(tmp_path / "elsewhere", monkeypatch)
    observe(fresh, list(reversed(HOUSEHOLD)))  # another order of the same observations
    stitch_identities(fresh, DAY, "another-run")
    assert identity_map(fresh) == first


def test_a_merge_keeps_one_id_and_logs_the_other(household):
    stitch_identities(household, DAY, "run-1")
    before = identity_map(household)
    carl_anonymous = before[("email", "carl@example.org")][0]
    # Carl signs up: his email and laptop now belong to a new CRM customer 3, created after he first visited
    observe(household, [*HOUSEHOLD, ("crm", "3", None, "carl@example.org", None, "2026-01-06"),
                        ("events", None, "3", "carl@example.org", "carl-laptop", "2026-01-06")])  # fmt: skip
    summary = stitch_identities(household, DAY + dt.timedelta(days=1), "run-2")
    after = identity_map(household)
    carl = after[("customer_id", "3")][0]
    assert after[("anonymous_id", "carl-laptop")][0] == after[("email", "carl@example.org")][0] == carl
    assert carl != carl_anonymous  # the customer record is the canonical identifier now
    assert after[("customer_id", "1")] == before[("customer_id", "1")], "untouched people keep their id"
    with connect(household.warehouse_path, read_only=True) as con:
        merges = con.execute(
            "select person_id, merged_into_person_id, identifiers_moved, run_id from ml.person_merges"
        ).fetchall()
    assert merges == [(carl_anonymous, carl, 2, "run-2")]
    assert summary.merges == 1
    # repeating the run changes nothing and logs nothing new
    stitch_identities(household, DAY + dt.timedelta(days=1), "run-3")
    assert identity_map(household) == after


def test_dedupe_clusters_join_customer_records(household):
    with connect(household.warehouse_path) as con:
        con.execute("create schema ml")
        con.execute(
            "create table ml.crm_customer_clusters as select 2::bigint as customer_id, 1::bigint as cluster_id, 0.9 as confidence, 'r' as run_id"
        )
    stitch_identities(household, DAY, "run-1")
    people = identity_map(household)
    assert people[("customer_id", "1")][0] == people[("customer_id", "2")][0]
    # one account now: the iPad is no longer shared between two
    assert people[("anonymous_id", "ipad")] == (people[("customer_id", "1")][0], None)
