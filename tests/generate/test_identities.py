"""The messy identity cases stitching is guarded against: household devices and junk identifiers."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pwh.generate import events, generate, people
from tests.generate.helpers import good_events

BLOCKLIST = Path(__file__).parents[2] / "dbt_project" / "seeds" / "identity_blocklist.csv"


def _truth(landing: Path, name: str) -> list[dict]:
    return pq.read_table(landing / "_truth" / name).to_pylist()


def _owners(landing: Path) -> dict[tuple[str, str], int]:
    return {
        (r["identifier_type"], r["identifier_value"]): r["person_id"]
        for r in _truth(landing, "identifiers.parquet")
    }


@pytest.fixture(scope="module")
def households(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landing where half the people share a home, so shared devices are common enough to test on."""
    landing = tmp_path_factory.mktemp("households")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(people, "HOUSEHOLD_SHARE", 0.5)
        generate(landing, users=200, days=7, seed=3, start_date=dt.date(2026, 2, 1), bad_share=0.0)
    return landing


def test_households_are_neighbours_sharing_the_hosts_first_device(households: Path) -> None:
    shared = _truth(households, "shared_devices.parquet")
    assert 25 <= len(shared) <= 75  # ~50 of 100 pairs
    owners = _owners(households)
    devices = defaultdict(list)
    for r in _truth(households, "identifiers.parquet"):
        if r["identifier_type"] == "anonymous_id":
            devices[r["person_id"]].append(r["identifier_value"])
    for r in shared:
        host, guest = r["person_id"], r["guest_person_id"]
        assert {host, guest} == {2 * ((host + 1) // 2) - 1, 2 * ((host + 1) // 2)}  # ids 1-2, 3-4, ...
        assert owners[("anonymous_id", r["anonymous_id"])] == host  # the device stays its owner's
        assert r["anonymous_id"] in devices[host] and r["anonymous_id"] not in devices[guest]
    assert len({r["anonymous_id"] for r in shared}) == len(shared)


def test_guests_log_in_on_the_hosts_device(households: Path) -> None:
    owners = _owners(households)
    shared = {
        r["anonymous_id"]: (r["person_id"], r["guest_person_id"])
        for r in _truth(households, "shared_devices.parquet")
    }
    accounts = defaultdict(set)  # cookie -> people whose accounts were logged in on it
    for _, e in good_events(households):
        if e["user_id"] is not None:
            accounts[e["anonymous_id"]].add(owners[("user_id", e["user_id"])])
    two_people = {cookie: persons for cookie, persons in accounts.items() if len(persons) > 1}
    assert len(two_people) >= 3, "some shared devices see both housemates' accounts"
    for cookie, persons in two_people.items():
        assert cookie in shared and persons == set(shared[cookie])


def test_junk_identifiers_appear_and_identify_no_one(landing: Path) -> None:
    junk = {
        (r["identifier_type"], r["identifier_value"]): r["occurrences"]
        for r in _truth(landing, "junk_identifiers.parquet")
    }
    assert {kind for kind, _ in junk} == {"email", "anonymous_id"}
    assert all(n > 0 for n in junk.values())
    owners = _owners(landing)
    assert not set(junk) & set(owners), "junk values belong to no one"
    seen = Counter()
    for _, e in good_events(landing):
        if ("anonymous_id", e["anonymous_id"]) in junk:
            seen[("anonymous_id", e["anonymous_id"])] += 1
        else:
            assert ("anonymous_id", e["anonymous_id"]) in owners
        if e["email"] is not None:
            email = e["email"].strip().lower()
            if ("email", email) in junk:
                assert e["event_type"] == "form_submit"
                seen[("email", email)] += 1
            else:
                assert ("email", email) in owners
    assert seen.keys() == junk.keys()
    n_bad = sum(1 for r in _truth(landing, "bad_rows.parquet") if r["source"] == "events")
    assert abs(sum(seen.values()) - sum(junk.values())) <= n_bad  # bad lines replace or copy a few


def test_junk_counts_are_exact_without_bad_lines(households: Path) -> None:
    junk = {
        (r["identifier_type"], r["identifier_value"]): r["occurrences"]
        for r in _truth(households, "junk_identifiers.parquet")
    }
    seen = Counter()
    for _, e in good_events(households):
        seen[("anonymous_id", e["anonymous_id"])] += 1
        if e["email"] is not None:
            seen[("email", e["email"])] += 1
    assert junk and {key: seen[key] for key in junk} == junk


def test_the_blocklist_catches_some_junk_emails_and_not_others() -> None:
    """The generator exercises both defences: the blocklist and, for what it misses, the sharing guard."""
    with BLOCKLIST.open(newline="") as f:
        patterns = [
            re.compile(re.escape(r["pattern"].lower()).replace("%", ".*").replace("_", "."))
            for r in csv.DictReader(f)
            if r["identifier_type"] in ("*", "email")
        ]
    emails = events.JUNK_EMAILS
    blocked = [e for e in emails if any(p.fullmatch(e) for p in patterns)]
    assert blocked and len(blocked) < len(emails), f"blocked {blocked} of {emails}"
