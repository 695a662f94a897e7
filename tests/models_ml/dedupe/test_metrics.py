"""pairwise_precision_recall on cases small enough to count by hand."""

from __future__ import annotations

import pytest

from models_ml.dedupe import pairwise_precision_recall

TRUTH = {1: "p", 2: "p", 3: "p", 4: "q", 5: "q", 6: "r"}  # true pairs: 12 13 23 45


def test_hand_computed_case() -> None:
    # predicted clusters {1,2} {3,4,5} {6}: pairs 12 34 35 45, of which 12 and 45 are right
    clusters = {1: "a", 2: "a", 3: "b", 4: "b", 5: "b", 6: "c"}
    assert pairwise_precision_recall(clusters, TRUTH) == (pytest.approx(2 / 4), pytest.approx(2 / 4))


def test_score_rows_are_accepted() -> None:
    # (customer_id, cluster_id, confidence) as score() returns them: {1,2,3} {4} {5} {6}
    rows = [(1, 1, 0.9), (2, 1, 0.9), (3, 1, 0.8), (4, 4, 1.0), (5, 5, 1.0), (6, 6, 1.0)]
    assert pairwise_precision_recall(rows, TRUTH) == (1.0, pytest.approx(3 / 4))


def test_perfect_and_empty() -> None:
    assert pairwise_precision_recall(dict(TRUTH), TRUTH) == (1.0, 1.0)
    # all singletons: no predicted pairs (precision 1 by convention), none of the 4 true pairs found
    assert pairwise_precision_recall({i: i for i in TRUTH}, TRUTH) == (1.0, 0.0)
    assert pairwise_precision_recall({}, TRUTH) == (1.0, 1.0)


def test_only_records_in_both_count() -> None:
    # record 9 has no truth; record 3 was not scored, so only the true pair 12 remains
    clusters = {1: "a", 2: "a", 9: "a"}
    assert pairwise_precision_recall(clusters, TRUTH) == (1.0, 1.0)
