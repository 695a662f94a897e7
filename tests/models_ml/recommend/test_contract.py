"""The contract every recommender keeps, on a small matrix whose right answers are known."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from models_ml.recommend.interactions import InteractionMatrix
from models_ml.recommend.models import (
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    Recommender,
    SVDRecommender,
    load_model,
)
from tests.models_ml.recommend.helpers import two_group_matrix

GROUP = 10  # users and items per group: users 0-9 / items 0-5 are group A, users 10-19 / items 6-11 group B
ITEMS = 6

PERSONALISED: dict[str, Callable[[], Recommender]] = {
    "svd": lambda: SVDRecommender(n_factors=2),
    "item_knn": lambda: ItemKNNRecommender(n_neighbours=5, shrink=0.0),
    "ease": lambda: EASERecommender(l2=1.0),
}
ALL: dict[str, Callable[[], Recommender]] = {"popularity": PopularityRecommender, **PERSONALISED}


def group_of_item(item: int) -> int:
    return int(item >= ITEMS)


@pytest.fixture(scope="module")
def matrix():
    return two_group_matrix(users_per_group=GROUP, items_per_group=ITEMS)


@pytest.fixture(params=list(ALL), scope="module")
def fitted(request, matrix) -> Recommender:
    return ALL[request.param]().fit(matrix)


@pytest.mark.parametrize("name", list(PERSONALISED))
def test_top_item_comes_from_the_users_own_group(name, matrix):
    model = PERSONALISED[name]().fit(matrix)
    for user in range(2 * GROUP):
        seen = matrix[user].indices
        items, _ = model.recommend(user, n=3, exclude=seen)
        assert group_of_item(items[0]) == int(user >= GROUP), (name, user, items)


@pytest.mark.parametrize("name", list(PERSONALISED))
def test_similar_items_stay_in_the_group(name, matrix):
    model = PERSONALISED[name]().fit(matrix)
    for item in (0, ITEMS + 1):
        neighbours, _ = model.similar_items(item, n=3)
        assert item not in neighbours
        assert group_of_item(neighbours[0]) == group_of_item(item), (name, item, neighbours)


def test_popularity_recommends_the_most_held_item(matrix):
    model = PopularityRecommender().fit(matrix)
    items, scores = model.recommend(GROUP + 1, n=2)
    assert items[0] == 0  # every group-A user holds item 0
    assert scores[0] == GROUP


def test_excluded_items_are_never_recommended(fitted, matrix):
    n_items = matrix.shape[1]
    for user in (0, GROUP + 3):
        exclude = np.arange(0, n_items, 2)
        items, _ = fitted.recommend(user, n=n_items, exclude=exclude)
        assert not set(items) & set(exclude)
        assert len(items) == n_items - len(exclude)  # asking for more than is left returns what is left
    items, _ = fitted.recommend_all(np.arange(matrix.shape[0]), n=4, exclude_matrix=matrix)
    for user, row in enumerate(items):
        assert not set(row) & set(matrix[user].indices)


def test_scores_are_sorted_descending_and_lists_unique(fitted, matrix):
    items, scores = fitted.recommend_all(None, n=8, exclude_matrix=matrix)
    assert items.shape == scores.shape == (matrix.shape[0], 8)
    for row_items, row_scores in zip(items, scores, strict=True):
        valid = row_items >= 0
        assert np.all(np.diff(row_scores[valid]) <= 1e-6)
        assert len(set(row_items[valid])) == valid.sum()
    neighbours, sims = fitted.similar_items(3, n=5)
    assert len(neighbours) == 5 and 3 not in neighbours
    assert np.all(np.diff(sims) <= 1e-6)


def test_recommend_all_agrees_with_recommend(fitted, matrix):
    users = np.array([0, 5, GROUP + 2])
    batch_items, batch_scores = fitted.recommend_all(users, n=4, exclude_matrix=matrix, batch_size=2)
    for row, user in enumerate(users):
        items, scores = fitted.recommend(int(user), n=4, exclude=matrix[user].indices)
        np.testing.assert_allclose(scores, batch_scores[row], rtol=1e-5)
        # equal scores may be ordered differently; compare as sets per distinct score
        assert set(items) == set(batch_items[row])


def test_padding_when_fewer_items_than_asked(fitted, matrix):
    n_items = matrix.shape[1]
    items, scores = fitted.recommend_all([0], n=n_items + 3)
    assert (items[0, n_items:] == -1).all() and np.isnan(scores[0, n_items:]).all()


def test_save_load_round_trip_gives_identical_recommendations(fitted, matrix, tmp_path):
    user_ids = np.array([f"u{i}" for i in range(matrix.shape[0])], dtype=object)
    item_ids = np.array([f"p{i}" for i in range(matrix.shape[1])], dtype=object)
    ids = InteractionMatrix(matrix, user_ids, item_ids)
    model = type(fitted)(**fitted.params).fit(ids)
    model.metadata["model_version"] = "test-1"
    loaded = load_model(model.save(tmp_path / "model"))
    assert type(loaded) is type(model) and loaded.params == model.params
    assert loaded.metadata["model_version"] == "test-1"
    assert loaded.user_ids.tolist() == model.user_ids.tolist()
    assert loaded.item_ids.tolist() == model.item_ids.tolist()
    before = model.recommend_all(None, n=5, exclude_matrix=matrix)
    after = loaded.recommend_all(None, n=5, exclude_matrix=matrix)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(model.similar_items_all(3)[0], loaded.similar_items_all(3)[0])


def test_load_checks_the_kind(matrix, tmp_path):
    path = PopularityRecommender().fit(matrix).save(tmp_path / "pop")
    with pytest.raises(TypeError):
        SVDRecommender.load(path)


def test_unseen_user_history_can_be_scored(matrix):
    """Item-based models score any history row, e.g. a person who was not in the training matrix."""
    model = SVDRecommender(n_factors=2).fit(matrix)
    history = matrix[[GROUP + 1]]
    np.testing.assert_allclose(model.score_history(history), model.scores([GROUP + 1]), rtol=1e-5)


@pytest.mark.parametrize("name", list(PERSONALISED))
def test_explain_points_at_a_history_item_of_the_same_group(name, matrix):
    model = PERSONALISED[name]().fit(matrix)
    users = np.array([1, GROUP + 1])
    items, _ = model.recommend_all(users, n=2, exclude_matrix=matrix)
    because = model.explain(users, items)
    for row, user in enumerate(users):
        assert set(because[row]) <= set(matrix[user].indices)
        assert all(group_of_item(source) == int(user >= GROUP) for source in because[row])


def test_popularity_has_no_reasons(matrix):
    model = PopularityRecommender().fit(matrix)
    items, _ = model.recommend_all([0], n=2)
    assert (model.explain([0], items) == -1).all()


def test_svd_rank_is_capped_for_tiny_matrices(matrix):
    model = SVDRecommender(n_factors=50).fit(matrix)
    assert len(model.singular_values) == min(matrix.shape) - 1
    assert model.item_factors.shape == (matrix.shape[1], len(model.singular_values))
    assert model.user_factors().shape == (matrix.shape[0], len(model.singular_values))


def test_negative_strengths_are_rejected(matrix):
    with pytest.raises(ValueError):
        SVDRecommender().fit(-matrix)
