"""Content similarity from catalogue text, and blending it with collaborative neighbours."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from models_ml.recommend.content import (
    align_neighbours,
    blend_similar_items,
    content_neighbours,
    content_vectors,
)
from models_ml.recommend.models import SVDRecommender
from tests.models_ml.recommend.helpers import two_group_matrix

CATALOGUE = pa.table(
    {
        "item_id": ["tent", "sleeping-bag", "espresso", "grinder", "new-stove", "mystery"],
        "title": [
            "Trail tent for two",
            "Down sleeping bag",
            "Espresso machine",
            "Burr coffee grinder",
            "Camping stove",
            "",
        ],
        "description": [
            "Light camping tent, waterproof",
            "Warm bag for camping nights",
            "Makes espresso and coffee at home",
            "Grinds coffee beans for espresso",
            "Compact gas stove for camping trips",
            None,
        ],
        "tags": [
            "outdoor|camping",
            "outdoor|camping",
            "kitchen|coffee",
            "kitchen|coffee",
            "outdoor|camping",
            None,
        ],
        "category": ["Outdoor", "Outdoor", "Kitchen", "Kitchen", "Outdoor", None],
    }
)


def test_items_sharing_words_are_neighbours():
    ids, vectors = content_vectors(CATALOGUE)
    assert ids.tolist() == CATALOGUE["item_id"].to_pylist()
    neighbours, scores = content_neighbours(vectors, n=2)
    names = ids.tolist()
    by_name = {names[i]: {names[j] for j in row if j >= 0} for i, row in enumerate(neighbours)}
    assert "grinder" in by_name["espresso"] and "espresso" in by_name["grinder"]
    assert by_name["new-stove"] <= {"tent", "sleeping-bag"}
    assert (neighbours[names.index("mystery")] == -1).all()  # no text, no neighbours (not random ones)
    assert np.all(scores[neighbours >= 0] > 0) and np.all(scores[neighbours >= 0] <= 1 + 1e-6)


def test_new_item_without_interactions_gets_neighbours_by_blending():
    # the collaborative model has only seen the first four items; the stove launched today
    catalogue_ids, vectors = content_vectors(CATALOGUE)
    content = content_neighbours(vectors, n=3)
    model_ids = np.array(["tent", "sleeping-bag", "espresso", "grinder"])
    cf_items = np.array([[1, -1], [0, -1], [3, -1], [2, -1]])
    cf_scores = np.array([[0.9, np.nan], [0.9, np.nan], [0.8, np.nan], [0.8, np.nan]], dtype=np.float32)
    cf = align_neighbours(cf_items, cf_scores, model_ids, catalogue_ids)
    assert (cf[0][4] == -1).all()  # the model has nothing for the new stove

    counts = np.array([50, 40, 30, 30, 0, 0])
    items, scores = blend_similar_items(cf, content, counts, n=3, shrink=10.0)
    names = catalogue_ids.tolist()
    stove = [names[j] for j in items[names.index("new-stove")] if j >= 0]
    assert stove and set(stove) <= {"tent", "sleeping-bag"}  # neighbours from its first day
    # a well-known item keeps its collaborative neighbour first
    assert names[items[names.index("tent")][0]] == "sleeping-bag"
    assert np.all(np.diff(np.nan_to_num(scores, nan=-1.0), axis=1) <= 1e-6)


def test_blend_weights_follow_interaction_counts():
    cf = (np.array([[1], [0], [-1]]), np.array([[1.0], [1.0], [np.nan]]))
    content = (np.array([[2], [2], [0]]), np.array([[1.0], [1.0], [1.0]]))
    items, scores = blend_similar_items(cf, content, np.array([30, 0, 0]), n=2, shrink=10.0)
    assert items[0].tolist() == [1, 2] and np.allclose(scores[0], [0.75, 0.25])
    assert items[1].tolist() == [2, -1] and np.isclose(scores[1][0], 1.0)  # no interactions: content only
    assert items[2].tolist() == [0, -1]


def test_blend_with_model_neighbours_end_to_end():
    matrix = two_group_matrix()
    model = SVDRecommender(n_factors=2).fit(matrix)
    cf = model.similar_items_all(n=3)
    content = (np.full_like(cf[0], -1), np.full(cf[1].shape, np.nan, dtype=np.float32))
    counts = np.bincount(matrix.indices, minlength=matrix.shape[1])
    items, _ = blend_similar_items(cf, content, counts, n=3)
    for item in np.flatnonzero(counts > 0):  # the same neighbours (rank-2 factors make ties, so as sets)
        assert set(items[item]) == set(cf[0][item])
