"""The stitching algorithm on hand-made identity graphs (see models_ml/identity/graph.py)."""

from __future__ import annotations

import numpy as np
import pytest

from models_ml.identity import stitch
from models_ml.identity.graph import AMBIGUOUS, NONE, SHARED


def graph(nodes: list[str], edges: list[tuple[str, str]], max_accounts: int = 1):
    """Nodes named 'customer:1', 'user:1', 'email:x', 'cookie:d'; returns {name: (person, guard)}."""
    index = {name: i for i, name in enumerate(nodes)}
    is_account = np.array([name.split(":")[0] in ("customer", "user") for name in nodes])
    a = np.array([index[x] for x, _ in edges], np.int64)
    b = np.array([index[y] for _, y in edges], np.int64)
    result = stitch(is_account, a, b, max_accounts)
    return {name: (int(result.person[i]), int(result.guard[i])) for name, i in index.items()}


def same(result, *names: str) -> bool:
    return len({result[name][0] for name in names}) == 1


ACCOUNTS = ["customer:1", "user:1", "customer:2", "user:2"]
ACCOUNT_EDGES = [("customer:1", "user:1"), ("customer:2", "user:2")]


def test_a_device_and_an_email_join_the_one_account_they_were_seen_with():
    result = graph(
        [*ACCOUNTS, "email:a", "cookie:d1", "cookie:d2"],
        [*ACCOUNT_EDGES, ("customer:1", "email:a"), ("user:1", "cookie:d1"), ("email:a", "cookie:d2")],
    )
    assert same(result, "customer:1", "user:1", "email:a", "cookie:d1", "cookie:d2")
    assert not same(result, "customer:1", "customer:2")
    assert all(guard == NONE for _, guard in result.values())


def test_a_shared_family_device_does_not_merge_the_household():
    result = graph(
        [*ACCOUNTS, "cookie:ipad", "cookie:phone1"],
        [*ACCOUNT_EDGES, ("user:1", "cookie:ipad"), ("user:2", "cookie:ipad"), ("user:1", "cookie:phone1")],
    )
    assert not same(result, "user:1", "user:2")
    assert result["cookie:ipad"][1] == SHARED
    assert not same(result, "cookie:ipad", "user:1") and not same(result, "cookie:ipad", "user:2")
    assert same(result, "user:1", "cookie:phone1")


def test_a_cap_of_two_accounts_lets_a_device_merge_two_accounts():
    result = graph(
        [*ACCOUNTS, "cookie:ipad"],
        [*ACCOUNT_EDGES, ("user:1", "cookie:ipad"), ("user:2", "cookie:ipad")],
        max_accounts=2,
    )
    assert same(result, "user:1", "user:2", "cookie:ipad")


def test_dedupe_clusters_are_strong_links_between_accounts():
    result = graph(
        ["customer:1", "customer:3", "user:3"], [("customer:1", "customer:3"), ("customer:3", "user:3")]
    )
    assert same(result, "customer:1", "customer:3", "user:3")


def test_an_anonymous_chain_of_emails_and_cookies_stays_one_anonymous_person():
    result = graph(
        ["email:x", "cookie:d1", "cookie:d2", "cookie:alone"],
        [("email:x", "cookie:d1"), ("email:x", "cookie:d2")],
    )
    assert same(result, "email:x", "cookie:d1", "cookie:d2")
    assert not same(result, "cookie:alone", "cookie:d1")


def test_in_an_ambiguous_component_each_identifier_follows_its_own_evidence():
    # the iPad saw both accounts; email a is account 1's; cookie d2 only ever saw email a
    result = graph(
        [*ACCOUNTS, "cookie:ipad", "email:a", "cookie:d2"],
        [
            *ACCOUNT_EDGES,
            ("user:1", "cookie:ipad"), ("user:2", "cookie:ipad"), ("cookie:ipad", "email:a"),
            ("customer:1", "email:a"), ("email:a", "cookie:d2"),
        ],
    )  # fmt: skip
    assert result["cookie:ipad"][1] == SHARED
    assert same(result, "customer:1", "email:a", "cookie:d2")
    assert not same(result, "customer:1", "customer:2")


def test_an_identifier_whose_only_evidence_is_a_shared_one_stays_apart():
    # email s is shared by both accounts; cookie d only saw email s: it could be either person's
    result = graph(
        [*ACCOUNTS, "email:s", "cookie:d"],
        [*ACCOUNT_EDGES, ("customer:1", "email:s"), ("customer:2", "email:s"), ("email:s", "cookie:d")],
    )
    assert result["email:s"][1] == SHARED
    assert result["cookie:d"][1] == AMBIGUOUS
    assert len({result[name][0] for name in ("customer:1", "customer:2", "email:s", "cookie:d")}) == 4


def test_people_are_numbered_densely_and_every_node_has_one():
    result = stitch(np.array([True, False, False]), np.array([0], np.int64), np.array([1], np.int64))
    assert result.people == 2 and sorted(set(result.person.tolist())) == [0, 1]


def test_the_cap_must_allow_one_account():
    with pytest.raises(ValueError, match="at least 1"):
        stitch(np.array([True]), np.array([], np.int64), np.array([], np.int64), max_accounts=0)
