"""The tables a nightly run publishes: top-N per person with reasons, and similar items per item.

Models return positions; these functions turn them into rows keyed by the warehouse's ids, with the
model version and, for people, a short reason ("similar to <item> you viewed"). People with no history
get the popular list instead, so everyone gets recommendations.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from models_ml.recommend.interactions import InteractionMatrix
from models_ml.recommend.models import Recommender

log = logging.getLogger(__name__)

RECOMMENDATION_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("item_id", pa.string()),
        ("rank", pa.int32()),
        ("score", pa.float64()),
        ("model_version", pa.string()),
        ("reason", pa.string()),
    ]
)
SIMILAR_ITEMS_SCHEMA = pa.schema(
    [
        ("item_id", pa.string()),
        ("similar_item_id", pa.string()),
        ("rank", pa.int32()),
        ("score", pa.float64()),
        ("model_version", pa.string()),
    ]
)

# the strongest thing a person did with the item a recommendation is based on
VERBS = {
    "product_view": "viewed",
    "add_to_cart": "added to your cart",
    "checkout_started": "added to your cart",
    "purchase": "bought",
    "remove_from_cart": "looked at",
}
# when the recommended item is itself in the person's history (e.g. viewed, not bought)
AGAIN = {
    "product_view": "you viewed this",
    "add_to_cart": "you added this to your cart",
    "checkout_started": "you added this to your cart",
    "purchase": "you bought this before",
}
POPULAR_REASON = "popular right now"
THEME_REASON = "popular with people interested in {theme}"


def _version(model: Recommender, model_version: str | None) -> str:
    return model_version or str(model.metadata.get("model_version") or model.kind)


def _strongest_events(
    strongest: sp.csr_matrix | None, event_types: Sequence[str], user: int, items: np.ndarray
) -> list[str | None]:
    """The strongest event type the user had with each of `items` (None: no event, or unknown)."""
    if strongest is None:
        return [None] * len(items)
    start, stop = strongest.indptr[user], strongest.indptr[user + 1]
    held, codes = strongest.indices[start:stop], strongest.data[start:stop]
    if len(held) == 0:
        return [None] * len(items)
    at = np.clip(np.searchsorted(held, items), 0, len(held) - 1)
    found = (held[at] == items) & (items >= 0)
    return [
        event_types[codes[a] - 1] if ok else None for a, ok in zip(at.tolist(), found.tolist(), strict=True)
    ]


def _reason(
    own_event: str | None, source: int, source_event: str | None, item_list: list, names: Mapping[Any, str]
) -> str:
    if own_event in AGAIN:
        return AGAIN[own_event]
    if source < 0:
        return "recommended for you"
    name = names.get(item_list[source], item_list[source])
    return f"similar to {name} you {VERBS.get(source_event, 'liked')}"


def user_recommendations(
    model: Recommender,
    *,
    n: int = 10,
    exclude: sp.spmatrix | None = None,
    model_version: str | None = None,
    history: InteractionMatrix | None = None,
    item_names: Mapping[Any, str] | None = None,
    popular: tuple[Sequence[Any], Sequence[float]] | None = None,
    cold_user_ids: Sequence[Any] = (),
    user_themes: Mapping[Any, str] | None = None,
    popular_by_theme: Mapping[str, tuple[Sequence[Any], Sequence[float]]] | None = None,
    batch_size: int = 2048,
) -> pa.Table:
    """Top-n rows (`RECOMMENDATION_SCHEMA`) for every user of a fitted model, plus `cold_user_ids`.

    - `exclude`: users x items matrix (the model's indexes) of items never to recommend to that user,
      e.g. what they already bought; None recommends anything.
    - `history`: the `InteractionMatrix` the model was fitted on, for the verb in the reason
      ("bought", "viewed"); without it the reason says "liked".
    - `item_names`: item id -> display name for reasons (default: the id).
    - `popular`: (item ids, scores) for people with no history (default: the items most users had).
    - `user_themes` (user -> strongest interest theme) and `popular_by_theme` (theme -> item ids, scores):
      a person with no history but a theme gets that theme's list instead, when it has items.
    Users of the model whose history is empty count as cold. Requires a model fitted on an
    `InteractionMatrix` (it needs the ids).
    """
    if model.user_ids is None or model.item_ids is None:
        raise ValueError("user_recommendations needs a model fitted on an InteractionMatrix (with ids)")
    version = _version(model, model_version)
    item_ids = np.asarray(model.item_ids)
    names = item_names or {}
    user_items = model.user_items
    has_history = np.diff(user_items.indptr) > 0
    warm = np.flatnonzero(has_history)
    columns: dict[str, list] = {name: [] for name in RECOMMENDATION_SCHEMA.names}

    item_list = item_ids.tolist()
    strongest, event_types = None, history.event_types if history is not None else ()
    if history is not None and history.strongest_event is not None:
        strongest = sp.csr_matrix(history.strongest_event)
        strongest.sort_indices()
    for start in range(0, len(warm), batch_size):
        users = warm[start : start + batch_size]
        items, scores = model.recommend_all(users, n=n, exclude_matrix=exclude)
        because = model.explain(users, items)
        for row, user in enumerate(users.tolist()):
            user_id = str(model.user_ids[user])
            own_events = _strongest_events(strongest, event_types, user, items[row])
            source_events = _strongest_events(strongest, event_types, user, because[row])
            for rank, (item, score) in enumerate(zip(items[row].tolist(), scores[row].tolist(), strict=True)):
                if item < 0:
                    break
                columns["user_id"].append(user_id)
                columns["item_id"].append(str(item_list[item]))
                columns["rank"].append(rank + 1)
                columns["score"].append(score)
                columns["model_version"].append(version)
                columns["reason"].append(
                    _reason(own_events[rank], int(because[row, rank]), source_events[rank], item_list, names)
                )

    if popular is None:
        counts = np.bincount(user_items.indices, minlength=user_items.shape[1])
        order = np.lexsort((np.arange(len(counts)), -counts))[:n]
        popular = (item_ids[order].tolist(), counts[order].astype(float).tolist())
    fallbacks = {None: (popular, POPULAR_REASON)} | {
        theme: (items, THEME_REASON.format(theme=theme))
        for theme, items in (popular_by_theme or {}).items()
        if len(items[0])
    }
    cold = [str(model.user_ids[user]) for user in np.flatnonzero(~has_history).tolist()]
    cold += [str(user) for user in cold_user_ids]
    for user_id in cold:
        theme = (user_themes or {}).get(user_id)
        (listed, listed_scores), reason = fallbacks.get(theme, fallbacks[None])
        for rank, (item, score) in enumerate(zip(list(listed)[:n], list(listed_scores)[:n], strict=True)):
            columns["user_id"].append(user_id)
            columns["item_id"].append(str(item))
            columns["rank"].append(rank + 1)
            columns["score"].append(float(score))
            columns["model_version"].append(version)
            columns["reason"].append(reason)
    log.info(
        "recommendations: %d warm users, %d cold users, %d rows", len(warm), len(cold), len(columns["rank"])
    )
    return pa.Table.from_pydict(columns, schema=RECOMMENDATION_SCHEMA)


def similar_items_table(
    item_ids: Sequence[Any] | np.ndarray, neighbours: np.ndarray, scores: np.ndarray, model_version: str
) -> pa.Table:
    """Rows (`SIMILAR_ITEMS_SCHEMA`) from (n_items, n) neighbour positions into `item_ids`, -1 = none."""
    item_ids = np.asarray(item_ids)
    rows, ranks = np.nonzero(neighbours >= 0)
    return pa.Table.from_pydict(
        {
            "item_id": [str(item) for item in item_ids[rows].tolist()],
            "similar_item_id": [str(item) for item in item_ids[neighbours[rows, ranks]].tolist()],
            "rank": (ranks + 1).tolist(),
            "score": scores[rows, ranks].astype(np.float64).tolist(),
            "model_version": [model_version] * len(rows),
        },
        schema=SIMILAR_ITEMS_SCHEMA,
    )
