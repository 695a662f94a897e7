"""Popular and trending items: what people with no history are shown, overall, per category and per
interest theme.

All windows are relative to `as_of` (the run's logical date, or the latest event), never the wall clock.

- overall / category: the sum over people of their time-decayed, event-weighted interaction with the
  item (the same strengths the recommenders learn from), so recent interest counts most.
- theme: the same strengths summed over the people whose strongest interest is that theme (their
  `top_theme`), so a person known only by what they read gets what readers like them engage with.
- trending: people interacting in the last `trending_days` against the rate expected from the
  `baseline_days` before, smoothed: (recent + 1) / (expected + 1), where expected = baseline *
  trending_days / baseline_days. Only items with at least `min_recent` recent people and a ratio above 1.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from models_ml.recommend.interactions import (
    DEFAULT_EVENT_WEIGHTS,
    DEFAULT_HALF_LIFE_DAYS,
    as_arrow,
    build_interactions,
    time_range,
    to_utc,
)

log = logging.getLogger(__name__)

POPULAR_SCHEMA = pa.schema(
    [
        ("list_name", pa.string()),  # overall | category | theme | trending
        ("category", pa.string()),  # set for list_name = category
        ("theme", pa.string()),  # set for list_name = theme
        ("item_id", pa.string()),
        ("score", pa.float64()),
        ("rank", pa.int32()),
    ]
)


def _people_per_item(
    table: pa.Table,
    item_ids: np.ndarray,
    since: dt.datetime,
    until: dt.datetime,
    weights: Mapping[str, float],
) -> np.ndarray:
    """Distinct people with a positively weighted event on each item in [since, until]."""
    positive = {name: 1.0 for name, weight in weights.items() if weight > 0}
    window = build_interactions(
        table, until, weights=positive, half_life_days=None, item_ids=item_ids, since=since
    ).matrix
    return np.bincount(window.indices, minlength=len(item_ids)).astype(np.float64)


def _ranked(
    list_name: str,
    item_ids: np.ndarray,
    scores: np.ndarray,
    n: int,
    category: str | None = None,
    theme: str | None = None,
) -> dict:
    order = np.lexsort((np.arange(len(scores)), -scores))[:n]
    return {
        "list_name": [list_name] * len(order),
        "category": [category] * len(order),
        "theme": [theme] * len(order),
        "item_id": [str(item) for item in item_ids[order].tolist()],
        "score": scores[order].astype(np.float64).tolist(),
        "rank": list(range(1, len(order) + 1)),
    }


def popular_items(
    interactions: Any,
    as_of: dt.datetime | dt.date | str | None = None,
    *,
    item_categories: Mapping[Any, str] | None = None,
    user_themes: Mapping[Any, str] | None = None,
    n: int = 20,
    trending_days: float = 7.0,
    baseline_days: float = 28.0,
    min_recent: int = 3,
    weights: Mapping[str, float] = DEFAULT_EVENT_WEIGHTS,
    half_life_days: float | None = DEFAULT_HALF_LIFE_DAYS,
) -> pa.Table:
    """Top-n lists as one table (`POPULAR_SCHEMA`): overall, one per category, one per theme, trending.

    `interactions` is an interaction table (user_id, item_id, event_type, occurred_at);
    `item_categories` maps item id -> category (items without one are left out of category lists);
    `user_themes` maps user id -> their strongest interest theme (users without one count only overall).
    """
    table = as_arrow(interactions)
    as_of = time_range(table)[1] if as_of is None else to_utc(as_of)
    decayed = build_interactions(table, as_of, weights=weights, half_life_days=half_life_days)
    item_ids = decayed.item_ids
    strength = np.asarray(decayed.matrix.sum(axis=0), dtype=np.float64).ravel()
    parts = [_ranked("overall", item_ids[strength > 0], strength[strength > 0], n)]

    if item_categories:
        categories = np.array([item_categories.get(item) for item in item_ids.tolist()], dtype=object)
        for category in sorted({c for c in categories.tolist() if c is not None}):
            in_category = (categories == category) & (strength > 0)
            parts.append(
                _ranked("category", item_ids[in_category], strength[in_category], n, category=category)
            )

    if user_themes:
        themes = np.array([user_themes.get(user) for user in decayed.user_ids.tolist()], dtype=object)
        for theme in sorted({t for t in themes.tolist() if t is not None}):
            of_theme = np.asarray(decayed.matrix[themes == theme].sum(axis=0), dtype=np.float64).ravel()
            parts.append(_ranked("theme", item_ids[of_theme > 0], of_theme[of_theme > 0], n, theme=theme))

    recent_from = as_of - dt.timedelta(days=trending_days)
    baseline_from = recent_from - dt.timedelta(days=baseline_days)
    recent = _people_per_item(table, item_ids, recent_from, as_of, weights)
    before = _people_per_item(
        table, item_ids, baseline_from, recent_from - dt.timedelta(microseconds=1), weights
    )
    expected = before * trending_days / baseline_days
    ratio = (recent + 1.0) / (expected + 1.0)
    trending = (recent >= min_recent) & (ratio > 1.0)
    parts.append(_ranked("trending", item_ids[trending], ratio[trending], n))

    columns = {name: sum((part[name] for part in parts), []) for name in POPULAR_SCHEMA.names}
    result = pa.Table.from_pydict(columns, schema=POPULAR_SCHEMA)
    log.info(
        "popular items as of %s: %d overall, %d category and theme rows, %d trending",
        as_of.isoformat(),
        len(parts[0]["item_id"]),
        sum(len(part["item_id"]) for part in parts[1:-1]),
        len(parts[-1]["item_id"]),
    )
    return result
