"""The published tables: recommendations per person with reasons, and similar items."""

from __future__ import annotations

import datetime as dt

import numpy as np

from models_ml.recommend.interactions import build_interactions
from models_ml.recommend.models import ItemKNNRecommender, SVDRecommender
from models_ml.recommend.outputs import (
    POPULAR_REASON,
    RECOMMENDATION_SCHEMA,
    SIMILAR_ITEMS_SCHEMA,
    THEME_REASON,
    similar_items_table,
    user_recommendations,
)
from tests.models_ml.recommend.helpers import AS_OF, events

DAY = dt.timedelta(days=1)


def history():
    rows = []
    # two tastes: tents & stoves vs coffee things; "ann" bought a tent, "bob" viewed a grinder
    for person in range(6):
        rows += [(f"c{person}", item, "purchase", AS_OF - DAY) for item in ("tent", "stove", "lamp")]
        rows += [(f"k{person}", item, "purchase", AS_OF - DAY) for item in ("espresso", "grinder", "mug")]
    rows += [("ann", "tent", "purchase", AS_OF), ("ann", "stove", "product_view", AS_OF)]
    rows += [("bob", "grinder", "product_view", AS_OF)]
    rows += [("gone", "tent", "remove_from_cart", AS_OF)]  # nothing positive left: a cold person
    return build_interactions(events(rows), AS_OF)


def test_recommendations_with_reasons_exclusions_and_cold_start():
    matrix = history()
    model = SVDRecommender(n_factors=2).fit(matrix)
    purchases = build_interactions(
        events([("ann", "tent", "purchase", AS_OF)]),
        AS_OF,
        user_ids=matrix.user_ids,
        item_ids=matrix.item_ids,
    ).matrix
    table = user_recommendations(
        model,
        n=2,
        exclude=purchases,
        model_version="svd-2026-03-01",
        history=matrix,
        item_names={"tent": "Trail tent", "grinder": "Burr grinder"},
        cold_user_ids=["newcomer"],
    )
    assert table.schema == RECOMMENDATION_SCHEMA
    rows = table.to_pylist()
    by_user: dict[str, list[dict]] = {}
    for row in rows:
        by_user.setdefault(row["user_id"], []).append(row)

    ann = by_user["ann"]
    assert "tent" not in [row["item_id"] for row in ann]  # already bought
    assert [row["rank"] for row in ann] == [1, 2]
    assert ann[0]["score"] >= ann[1]["score"]
    assert ann[0]["item_id"] in {"stove", "lamp"}
    assert all(row["model_version"] == "svd-2026-03-01" for row in rows)
    assert any(row["reason"] == "similar to Trail tent you bought" for row in ann)

    bob = {row["item_id"]: row["reason"] for row in by_user["bob"]}
    assert set(bob) <= {"espresso", "grinder", "mug"}
    for item, reason in bob.items():  # only purchases are excluded: a viewed item may come back
        assert reason == ("you viewed this" if item == "grinder" else "similar to Burr grinder you viewed")

    # nobody without history is left out: they get the popular list
    for person in ("newcomer", "gone"):
        assert [row["reason"] for row in by_user[person]] == [POPULAR_REASON] * 2


def test_people_with_no_history_get_the_popular_items_of_their_theme():
    model = SVDRecommender(n_factors=2).fit(history())
    table = user_recommendations(
        model,
        n=2,
        popular=(["tent", "stove"], [9.0, 8.0]),
        cold_user_ids=["reader", "listener", "stranger"],
        user_themes={"reader": "coffee", "listener": "music", "ann": "coffee"},
        popular_by_theme={"coffee": (["espresso", "mug", "grinder"], [5.0, 4.0, 3.0]), "music": ([], [])},
    )
    by_user: dict[str, list[tuple[str, str]]] = {}
    for row in table.to_pylist():
        by_user.setdefault(row["user_id"], []).append((row["item_id"], row["reason"]))
    coffee = THEME_REASON.format(theme="coffee")
    assert by_user["reader"] == [("espresso", coffee), ("mug", coffee)]
    # an empty theme list, or no theme: the overall list
    assert by_user["listener"] == by_user["stranger"] == [("tent", POPULAR_REASON), ("stove", POPULAR_REASON)]
    assert all(reason != coffee for _, reason in by_user["ann"]), "people with history get the model's"


def test_similar_items_table():
    matrix = history()
    model = ItemKNNRecommender(n_neighbours=3, shrink=0.0).fit(matrix)
    neighbours, scores = model.similar_items_all(n=2)
    table = similar_items_table(model.item_ids, neighbours, scores, "knn-1")
    assert table.schema == SIMILAR_ITEMS_SCHEMA
    pairs = {(row["item_id"], row["similar_item_id"]) for row in table.to_pylist()}
    assert ("espresso", "grinder") in pairs or ("espresso", "mug") in pairs
    assert all(row["item_id"] != row["similar_item_id"] for row in table.to_pylist())
    assert table.num_rows == int((neighbours >= 0).sum())
    assert np.all(np.asarray(table["rank"].to_pylist()) >= 1)
