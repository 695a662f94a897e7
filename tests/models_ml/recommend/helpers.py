"""Small synthetic data whose right answers are known: taste groups with disjoint item sets."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

AS_OF = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def two_group_matrix(users_per_group: int = 10, items_per_group: int = 6, seed: int = 0) -> sp.csr_matrix:
    """Users 0..g-1 only touch items 0..m-1, the others only items m..2m-1; each user has half its
    group's items, so every user has unseen items of its own group to be recommended. Item 0 is held by
    every user of group A, so it is the most popular item overall."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for group in range(2):
        for user in range(group * users_per_group, (group + 1) * users_per_group):
            chosen = rng.choice(items_per_group, size=items_per_group // 2, replace=False)
            if group == 0 and 0 not in chosen:
                chosen[0] = 0
            rows += [user] * len(chosen)
            cols += (chosen + group * items_per_group).tolist()
    shape = (2 * users_per_group, 2 * items_per_group)
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)


def group_events(
    n_users: int = 240,
    n_groups: int = 4,
    items_per_group: int = 30,
    days: int = 60,
    events_per_user: int = 40,
    seed: int = 0,
    as_of: dt.datetime = AS_OF,
) -> pa.Table:
    """An interaction table over `days` before `as_of`: each user belongs to a taste group and mostly
    views, carts and buys its group's items (90%), the rest spread over the whole catalogue. Item
    popularity within a group is skewed (Zipf-like), so popularity is a fair but beatable baseline."""
    rng = np.random.default_rng(seed)
    n_items = n_groups * items_per_group
    group_of_user = np.arange(n_users) % n_groups
    in_group_p = 1.0 / np.arange(1, items_per_group + 1) ** 0.8
    in_group_p /= in_group_p.sum()
    users, items, kinds, times = [], [], [], []
    for user in range(n_users):
        count = rng.poisson(events_per_user) + 2
        own = rng.random(count) < 0.9
        own_items = group_of_user[user] * items_per_group + rng.choice(
            items_per_group, size=count, p=in_group_p
        )
        other_items = rng.integers(0, n_items, size=count)
        items += np.where(own, own_items, other_items).tolist()
        users += [user] * count
        kinds += rng.choice(
            ["product_view", "add_to_cart", "purchase"], size=count, p=[0.7, 0.2, 0.1]
        ).tolist()
        times += (rng.random(count) * days * 86_400).tolist()
    start = as_of - dt.timedelta(days=days)
    occurred = [start + dt.timedelta(seconds=seconds) for seconds in times]
    return pa.table(
        {
            "user_id": [f"u{user:04d}" for user in users],
            "item_id": [f"p{item:04d}" for item in items],
            "event_type": kinds,
            "occurred_at": pa.array(occurred, type=pa.timestamp("us", tz="UTC")),
        }
    )


def events(rows: list[tuple[str | None, str | None, str, dt.datetime]]) -> pa.Table:
    """An interaction table from (user_id, item_id, event_type, occurred_at) tuples."""
    users, items, kinds, times = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pa.table(
        {
            "user_id": pa.array(users, type=pa.string()),
            "item_id": pa.array(items, type=pa.string()),
            "event_type": pa.array(kinds, type=pa.string()),
            "occurred_at": pa.array(times, type=pa.timestamp("us", tz="UTC")),
        }
    )
