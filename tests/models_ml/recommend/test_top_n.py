"""`top_n` against a full sort, on batches wide enough for its two-step (block maxima) selection; the SVD's
top n from its largest-norm items first (`head_top_n`) against scoring every item."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from models_ml.recommend.models import (
    HEAD_MIN_ITEMS,
    Recommender,
    SVDRecommender,
    _candidate_block,
    head_top_n,
    top_n,
)


def reference(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Full sort of every row: finite scores only, best first, padded with -1 / nan."""
    items = np.full((len(scores), n), -1, dtype=np.int64)
    values = np.full((len(scores), n), np.nan, dtype=np.float32)
    for row, row_scores in enumerate(scores):
        finite = np.flatnonzero(np.isfinite(row_scores))
        best = finite[np.lexsort((finite, -row_scores[finite]))][:n]
        items[row, : len(best)], values[row, : len(best)] = best, row_scores[best]
    return items, values


@pytest.mark.parametrize("n_cols", [100_000, 100_003, 41_000])  # the last block ragged or not
def test_distinct_scores_give_the_full_sorts_items(n_cols):
    assert _candidate_block(n_cols, 10), "wide enough to take the two-step path"
    scores = np.random.default_rng(n_cols).standard_normal((16, n_cols)).astype(np.float32)
    scores[3, -1] = 100.0  # the best item in the ragged last block
    scores[4, :5] = 50.0 + np.arange(5)  # several of the best items in one block
    items, values = top_n(scores, 10)
    expected_items, expected_values = reference(scores, 10)
    np.testing.assert_array_equal(items, expected_items)
    np.testing.assert_array_equal(values, expected_values)


def test_ties_excluded_items_and_short_rows():
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 40, size=(48, 60_000)).astype(np.float32)  # many ties at every value
    scores[0, :] = -np.inf  # everything excluded
    scores[1, :] = -np.inf
    scores[1, [5, 59_999, 30_000]] = [2.0, 3.0, 1.0]  # fewer finite items than asked
    scores[2, ::2] = np.nan  # nan is never taken
    items, values = top_n(scores, 10)
    expected_items, expected_values = reference(scores, 10)
    np.testing.assert_array_equal(values, expected_values)  # same scores, best first
    np.testing.assert_array_equal(items[:2], expected_items[:2])
    taken = items >= 0
    np.testing.assert_array_equal(
        np.take_along_axis(scores, np.where(taken, items, 0), 1)[taken], values[taken]
    )
    assert all(len(set(row[row >= 0])) == (row >= 0).sum() for row in items), "no item twice"
    assert np.all(np.diff(items[3:], axis=1)[np.diff(values[3:], axis=1) == 0] > 0), "ties in position order"


def test_narrow_batches_take_one_step():
    assert _candidate_block(2_000, 10) == 0
    scores = np.random.default_rng(1).standard_normal((5, 2_000))
    np.testing.assert_array_equal(top_n(scores, 10)[0], reference(scores, 10)[0])


def test_head_top_n_is_exact_for_the_rows_it_says_and_only_those():
    rng = np.random.default_rng(4)
    # item factor norms fall from 10 to 0.1 across the catalogue, as popularity makes them
    items = rng.standard_normal((8, 3000)).astype(np.float32) * np.geomspace(10, 0.1, 3000, dtype=np.float32)
    users = rng.standard_normal((200, 8)).astype(np.float32)
    users[:20, :] *= 0.01  # weak tastes: their top 10 is close to ties, the head cannot settle them
    norms = np.linalg.norm(items, axis=0)
    by_norm = np.argsort(-norms)
    head = np.sort(by_norm[:300])
    excluded = (np.array([5, 5]), np.searchsorted(head, by_norm[:2]))  # user 5 had the two largest
    got_items, got_values, exact = head_top_n(
        users, items[:, head], head, float(norms[by_norm[300]]), 10, excluded
    )
    full = users @ items
    full[5, by_norm[:2]] = -np.inf
    expected_items, _ = reference(full, 10)
    assert 0 < exact.sum() < len(users), "some rows settled by the head, some not"
    np.testing.assert_array_equal(got_items[exact], expected_items[exact])
    assert not set(by_norm[:2]) & set(got_items[5])
    assert (got_items[~exact] != expected_items[~exact]).any(), "a row not exact can be wrong"


def test_svd_recommend_all_equals_scoring_every_item():
    rng = np.random.default_rng(8)
    n_users, n_items = 600, 4 * HEAD_MIN_ITEMS  # wide enough for a head smaller than the catalogue
    popularity = 1 / np.arange(1, n_items + 1) ** 0.9
    cells = 30 * n_users
    rows = rng.integers(0, n_users, cells)
    cols = rng.choice(n_items, size=cells, p=popularity / popularity.sum())
    matrix = sp.csr_matrix((np.ones(cells, np.float32), (rows, cols)), shape=(n_users, n_items))
    for rank in (4, 48):
        model = SVDRecommender(n_factors=rank).fit(matrix)
        items, values = model.recommend_all(None, n=10, exclude_matrix=matrix, batch_size=128)
        every_item = Recommender._batch_top_n(model, 10, matrix)  # the base class: every item scored
        expected_items, expected_values = every_item(np.arange(n_users))
        np.testing.assert_array_equal(items, expected_items)
        np.testing.assert_allclose(values, expected_values, rtol=1e-5)
        assert (matrix[np.arange(n_users)[:, None], items].toarray() == 0).all()  # own items excluded
