"""Popular items overall, per category and trending, relative to as_of."""

from __future__ import annotations

import datetime as dt

from models_ml.recommend.popular import POPULAR_SCHEMA, popular_items
from tests.models_ml.recommend.helpers import AS_OF, events

DAY = dt.timedelta(days=1)


def interactions():
    rows = []
    # "steady": 2 people a week for 5 weeks; "burst": nothing before, 6 people in the last 3 days;
    # "old": many people 3 months ago (decayed away)
    for week in range(5):
        for person in range(2):
            rows.append((f"s{week}{person}", "steady", "purchase", AS_OF - (7 * week + 1) * DAY))
    for person in range(6):
        rows.append((f"b{person}", "burst", "product_view", AS_OF - (person % 3) * DAY))
    for person in range(20):
        rows.append((f"o{person}", "old", "purchase", AS_OF - 90 * DAY))
    rows.append(("late", "future", "purchase", AS_OF + DAY))  # after as_of: ignored
    return events(rows)


def lists(table):
    result: dict[tuple[str, str | None], list[str]] = {}
    for row in table.to_pylist():
        result.setdefault((row["list_name"], row["category"]), []).append(row["item_id"])
    return result


def test_overall_category_and_trending():
    table = popular_items(
        interactions(), AS_OF, item_categories={"steady": "garden", "burst": "toys", "old": "garden"}, n=3
    )
    assert table.schema == POPULAR_SCHEMA
    found = lists(table)
    # steady: 10 purchases * 5 (decayed) beats 6 fresh views and 20 purchases 3 half-lives ago
    assert found[("overall", None)] == ["steady", "old", "burst"]
    assert found[("category", "garden")] == ["steady", "old"]
    assert found[("category", "toys")] == ["burst"]
    assert found[("trending", None)] == ["burst"]  # steady is flat, old is falling
    assert "future" not in table["item_id"].to_pylist()
    ranks = [row["rank"] for row in table.to_pylist() if row["list_name"] == "overall"]
    assert ranks == [1, 2, 3]


def test_windows_follow_as_of_not_the_clock():
    earlier = AS_OF - 30 * DAY  # before the burst: nothing is trending yet, and the burst is unknown
    found = lists(popular_items(interactions(), earlier, n=5))
    assert ("trending", None) not in found
    assert "burst" not in found[("overall", None)]


def test_as_of_defaults_to_the_latest_event():
    found = lists(popular_items(interactions(), n=5))
    assert "future" in found[("overall", None)]


def test_theme_lists_rank_what_people_of_that_theme_engage_with():
    rows = [(f"g{person}", "spade", "purchase", AS_OF - DAY) for person in range(3)]
    rows += [(f"g{person}", "tent", "product_view", AS_OF - DAY) for person in range(3)]
    rows += [(f"m{person}", "guitar", "purchase", AS_OF - DAY) for person in range(2)]
    rows += [("nobody", "tent", "purchase", AS_OF - DAY)]  # no theme: counts overall only
    themes = {"g0": "garden", "g1": "garden", "g2": "garden", "m0": "music", "m1": "music"}
    table = popular_items(events(rows), AS_OF, user_themes=themes, n=5)
    found: dict[tuple[str, str | None], list[str]] = {}
    for row in table.to_pylist():
        found.setdefault((row["list_name"], row["theme"]), []).append(row["item_id"])
    assert found[("theme", "garden")] == ["spade", "tent"]  # purchases outweigh views
    assert found[("theme", "music")] == ["guitar"]
    assert set(found[("overall", None)]) == {"spade", "tent", "guitar"}
    assert all(row["category"] is None for row in table.to_pylist() if row["list_name"] == "theme")
