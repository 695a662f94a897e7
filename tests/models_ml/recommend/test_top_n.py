"""`top_n` against a full sort, on batches wide enough for its two-step (block maxima) selection."""

from __future__ import annotations

import numpy as np
import pytest

from models_ml.recommend.models import _candidate_block, top_n


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
