"""Metric functions on hand-computed cases, and the vectorised version against them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models_ml.recommend.metrics import (
    catalogue_coverage,
    map_at_k,
    mean_over_users,
    metrics_from_hits,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

RECOMMENDED = [1, 2, 3, 4, 5]
RELEVANT = {1, 3, 6}  # hits at positions 0 and 2; item 6 is never recommended


def test_hand_computed_at_5():
    assert precision_at_k(RECOMMENDED, RELEVANT, 5) == pytest.approx(2 / 5)
    assert recall_at_k(RECOMMENDED, RELEVANT, 5) == pytest.approx(2 / 3)
    dcg = 1 / math.log2(2) + 1 / math.log2(4)  # hits at ranks 1 and 3
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)  # three relevant items at the top
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 5) == pytest.approx(dcg / idcg)  # 0.7039
    assert map_at_k(RECOMMENDED, RELEVANT, 5) == pytest.approx((1 / 1 + 2 / 3) / 3)  # 0.5556


def test_hand_computed_at_2():
    assert precision_at_k(RECOMMENDED, RELEVANT, 2) == pytest.approx(1 / 2)
    assert recall_at_k(RECOMMENDED, RELEVANT, 2) == pytest.approx(1 / 3)
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert map_at_k(RECOMMENDED, RELEVANT, 2) == pytest.approx(1 / 2)  # one hit of min(2, 3) possible


def test_perfect_and_useless_lists():
    assert ndcg_at_k([3, 1, 6, 9], RELEVANT, 3) == pytest.approx(1.0)
    assert map_at_k([3, 1, 6, 9], RELEVANT, 3) == pytest.approx(1.0)
    for metric in (precision_at_k, recall_at_k, ndcg_at_k, map_at_k):
        assert metric([7, 8, 9], RELEVANT, 3) == 0.0


def test_empty_relevant_set_scores_zero():
    for metric in (precision_at_k, recall_at_k, ndcg_at_k, map_at_k):
        assert metric(RECOMMENDED, set(), 5) == 0.0


def test_k_larger_than_the_list_counts_missing_slots_as_misses():
    assert precision_at_k([1], {1}, 10) == pytest.approx(0.1)
    assert recall_at_k([1], {1}, 10) == 1.0
    assert ndcg_at_k([1], {1}, 10) == 1.0
    assert map_at_k([1], {1}, 10) == 1.0
    assert ndcg_at_k([], {1}, 10) == 0.0


def test_k_must_be_positive():
    with pytest.raises(ValueError):
        precision_at_k(RECOMMENDED, RELEVANT, 0)


def test_catalogue_coverage():
    assert catalogue_coverage([[0, 1], [1, 2]], n_items=4) == pytest.approx(0.75)
    assert catalogue_coverage([[0, 1, 3], [1, 2]], n_items=4, k=1) == pytest.approx(0.5)
    assert catalogue_coverage([[0, -1, -1]], n_items=4) == pytest.approx(0.25)  # padding is not an item
    assert catalogue_coverage([], n_items=4) == 0.0
    assert catalogue_coverage([[1]], n_items=0) == 0.0


def test_mean_over_users_skips_users_without_relevant_items():
    value = mean_over_users(precision_at_k, [[1, 2], [3, 4], [5, 6]], [{1}, set(), {5, 6}], k=2)
    assert value == pytest.approx((0.5 + 1.0) / 2)
    assert math.isnan(mean_over_users(precision_at_k, [[1]], [set()], k=1))


def test_vectorised_metrics_match_the_reference_functions():
    rng = np.random.default_rng(3)
    n_items, k = 30, 10
    recommended = [rng.permutation(n_items)[: rng.integers(1, 15)] for _ in range(200)]
    relevant = [
        set(rng.choice(n_items, size=rng.integers(0, 12), replace=False).tolist()) for _ in range(200)
    ]
    width = max(len(recs) for recs in recommended)
    hits = np.zeros((200, width), dtype=bool)
    for user, recs in enumerate(recommended):
        hits[user, : len(recs)] = [item in relevant[user] for item in recs]
    per_user = metrics_from_hits(hits, np.array([len(rel) for rel in relevant]), k)
    reference = {"precision": precision_at_k, "recall": recall_at_k, "ndcg": ndcg_at_k, "map": map_at_k}
    for name, metric in reference.items():
        expected = [metric(recs.tolist(), rel, k) for recs, rel in zip(recommended, relevant, strict=True)]
        np.testing.assert_allclose(per_user[name], expected, err_msg=name)
