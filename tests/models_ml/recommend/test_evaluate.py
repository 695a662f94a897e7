"""Offline evaluation, rank tuning and the quality gate."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from models_ml.recommend.evaluate import evaluate, gate, train_and_evaluate, tune_svd
from models_ml.recommend.interactions import per_user_random_split
from models_ml.recommend.models import PopularityRecommender, Recommender, SVDRecommender
from tests.models_ml.recommend.helpers import AS_OF, events, group_events


class RandomRecommender(Recommender):
    """Deliberately broken: random scores. Used to check that the gate stops bad models."""

    kind = "random_for_tests"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.seed = seed

    @property
    def params(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def _fit(self, matrix: sp.csr_matrix) -> None:
        pass

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        return np.random.default_rng(self.seed).random((history.shape[0], self.n_items))

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        return np.random.default_rng(self.seed).random((len(items), self.n_items))

    def _arrays(self) -> dict[str, np.ndarray]:
        return {}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        pass


def test_evaluate_hand_computed():
    # popularity: item 0 held by 4 users, item 1 by 3, item 2 by 2, item 3 by 1, item 4 by none
    train = sp.csr_matrix(
        np.array([[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], dtype=np.float32)
    )
    # training items are excluded: user 0 gets [1, 2] (hit at rank 2), user 1 gets [2, 3] (hit at rank 2)
    test = {0: [2], 1: [3, 4]}
    model = PopularityRecommender().fit(train)
    result = evaluate(model, train, test, k=2)
    assert result["users"] == 2
    assert result["precision@2"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert result["recall@2"] == pytest.approx((1 + 1 / 2) / 2)
    discount = 1 / np.log2(3)
    assert result["ndcg@2"] == pytest.approx((discount / 1 + discount / (1 + discount)) / 2)
    assert result["map@2"] == pytest.approx((1 / 2 / 1 + 1 / 2 / 2) / 2)
    assert result["coverage@2"] == pytest.approx(3 / 5)  # items 1, 2, 3 appear in some list


def test_evaluate_without_test_users_measures_nothing():
    train = sp.csr_matrix(np.eye(3, dtype=np.float32))
    result = evaluate(PopularityRecommender().fit(train), train, sp.csr_matrix((3, 3)), k=2)
    assert result["users"] == 0 and np.isnan(result["ndcg@2"])


@pytest.fixture(scope="module")
def structured():
    table = group_events(n_users=200, n_groups=4, items_per_group=25, days=30, seed=5)
    from models_ml.recommend.interactions import build_interactions

    matrix = build_interactions(table, AS_OF, half_life_days=None).matrix
    return per_user_random_split(matrix, 0.25, seed=1)


def test_gate_stops_a_broken_model(structured):
    train, test = structured
    baseline = PopularityRecommender().fit(train)
    passed, reason, scores = gate(RandomRecommender().fit(train), baseline, train, test)
    assert not passed and "does not beat" in reason
    assert scores["model"]["ndcg@10"] < scores["baseline"]["ndcg@10"]
    good, _, _ = gate(SVDRecommender(n_factors=8).fit(train), baseline, train, test)
    assert good


def test_tuning_prefers_a_small_rank_on_group_structure(structured):
    train, test = structured
    best, table = tune_svd(train, test, ranks=(1, 4, 64), popularity_dampings=(0.0,), user_norm_powers=(0.0,))
    assert len(table) == 3
    assert best.n_factors == 4  # 4 taste groups: rank 1 is popularity, rank 64 overfits
    by_rank = {row["n_factors"]: row["ndcg@10"] for row in table}
    assert by_rank[4] > by_rank[1] and by_rank[4] > by_rank[64]


def test_tuning_learns_from_a_sample_of_users_that_holds_the_validation_users(structured):
    train, test = structured
    best, table = tune_svd(
        train, test, ranks=(1, 4, 64), popularity_dampings=(0.0,), user_norm_powers=(0.0,),
        max_users=40, max_train_users=120,
    )  # fmt: skip
    assert best.user_items.shape == (120, train.shape[1])  # the candidates saw 120 of the 200 users
    assert len(table) == 3 and {row["users"] for row in table} == {40}
    assert best.n_factors == 4  # the same choice as with every user (the test above)


def test_gate_measures_a_sample_of_test_users_and_says_how_many_there_were(structured):
    train, test = structured
    svd, baseline = SVDRecommender(n_factors=4).fit(train), PopularityRecommender().fit(train)
    everyone = gate(svd, baseline, train, test, max_users=None)
    sampled = gate(svd, baseline, train, test, max_users=50, seed=3)
    n_test_users = int((np.diff(sp.csr_matrix(test).indptr) > 0).sum())
    assert everyone[2]["model"]["users"] == everyone[2]["model"]["test_users"] == n_test_users > 50
    for scores in sampled[2].values():
        assert scores["users"] == 50 and scores["test_users"] == n_test_users
    assert sampled[2]["model"]["ndcg@10"] != everyone[2]["model"]["ndcg@10"]  # another set of users
    assert sampled[0] and everyone[0]


def test_train_and_evaluate_says_when_the_gate_measured_a_sample():
    table = group_events(n_users=240, days=42, seed=2)
    result = train_and_evaluate(
        table, AS_OF, test_days=7, ranks=(2, 4, 8), popularity_dampings=(0.0,), max_test_users=30
    )
    assert result.metrics["svd"]["users"] == 30 < result.metrics["svd"]["test_users"]
    assert f"on a sample of 30 of {result.metrics['svd']['test_users']} test users" in result.reason


def test_train_and_evaluate_publishes_a_model_that_beats_popularity():
    table = group_events(n_users=240, days=42, seed=2)
    result = train_and_evaluate(
        table, AS_OF, test_days=7, ranks=(2, 4, 8, 16), popularity_dampings=(0.0, 0.25)
    )
    model, metrics, passed, reason = result
    assert passed, reason
    assert metrics["svd"]["ndcg@10"] > metrics["popularity"]["ndcg@10"]
    for name in ("precision@10", "recall@10", "ndcg@10", "map@10", "coverage@10"):
        assert 0 <= metrics["svd"][name] <= 1 and 0 <= metrics["popularity"][name] <= 1
    assert metrics["tuning"] and metrics["params"]["n_factors"] in (2, 4, 8, 16)
    assert metrics["windows"]["test_from"] == (AS_OF - dt.timedelta(days=7)).isoformat()
    # the published model learnt from everything up to as_of and carries its evaluation
    assert model.n_users == 240 and model.metadata["passed_gate"] is True
    assert model.metadata["as_of"] == AS_OF.isoformat()


def test_train_and_evaluate_fails_the_gate_with_too_few_test_users():
    table = group_events(n_users=12, days=42, seed=3)
    result = train_and_evaluate(table, AS_OF, ranks=(2, 4), popularity_dampings=(0.0,))
    assert not result.passed_gate and "too few" in result.reason


def test_train_and_evaluate_fails_the_gate_when_personal_taste_stops_predicting():
    """History is group-structured, but in the test week everyone views the other groups' best sellers:
    an SVD that learnt the groups is worse than popularity there, so it must not be published."""
    cutoff = AS_OF - dt.timedelta(days=7)
    history = group_events(n_users=240, n_groups=4, items_per_group=30, days=35, seed=4, as_of=cutoff)
    users = sorted(set(history["user_id"].to_pylist()))
    best_sellers = [f"p{group * 30:04d}" for group in range(4)]
    week = events(
        [
            (user, item, "product_view", cutoff + dt.timedelta(days=3))
            for user in users
            for item in best_sellers
        ]
    )
    result = train_and_evaluate(pa.concat_tables([history, week]), AS_OF, ranks=(2, 4, 8))
    assert not result.passed_gate, result.reason
    assert "does not beat" in result.reason
    assert result.metrics["svd"]["ndcg@10"] <= result.metrics["popularity"]["ndcg@10"]
    assert result.model.metadata["passed_gate"] is False
