"""Event weights, time decay relative to as_of, and the time and random splits."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

from models_ml.recommend.interactions import (
    build_interactions,
    per_user_random_split,
    relevant_sets,
    time_range,
    time_split,
)
from tests.models_ml.recommend.helpers import AS_OF, events, group_events

DAY = dt.timedelta(days=1)


def cell(result, user: str, item: str) -> float:
    return float(result.matrix[result.user_index()[user], result.item_index()[item]])


def test_weights_and_half_life_decay():
    table = events(
        [
            ("u1", "a", "purchase", AS_OF - 30 * DAY),  # 5 * 0.5: one half-life old
            ("u1", "a", "product_view", AS_OF),  # 1, no decay at as_of
            ("u1", "b", "add_to_cart", AS_OF - 60 * DAY),  # 3 * 0.25
            ("u2", "b", "product_view", AS_OF - 10 * DAY),  # 1 * 0.5 ** (1/3)
        ]
    )
    result = build_interactions(table, AS_OF, half_life_days=30)
    assert result.user_ids.tolist() == ["u1", "u2"] and result.item_ids.tolist() == ["a", "b"]
    assert cell(result, "u1", "a") == pytest.approx(2.5 + 1.0)
    assert cell(result, "u1", "b") == pytest.approx(0.75)
    assert cell(result, "u2", "b") == pytest.approx(0.5 ** (1 / 3), rel=1e-5)
    assert result.matrix.dtype == np.float32


def test_no_decay_and_custom_weights():
    table = events([("u1", "a", "purchase", AS_OF - 300 * DAY), ("u1", "a", "like", AS_OF)])
    result = build_interactions(table, AS_OF, weights={"purchase": 2.0, "like": 0.5}, half_life_days=None)
    assert cell(result, "u1", "a") == pytest.approx(2.5)


def test_removals_offset_adds_but_never_go_negative():
    table = events(
        [
            ("u1", "a", "add_to_cart", AS_OF),
            ("u1", "a", "remove_from_cart", AS_OF),
            ("u1", "b", "remove_from_cart", AS_OF),
            ("u1", "c", "product_view", AS_OF),
        ]
    )
    result = build_interactions(table, AS_OF, half_life_days=None)
    assert cell(result, "u1", "a") == pytest.approx(2.0)
    assert cell(result, "u1", "b") == 0.0  # clipped, and not stored
    assert result.matrix.data.min() > 0


def test_ignored_rows_future_events_and_default_as_of():
    table = events(
        [
            ("u1", "a", "product_view", AS_OF - DAY),
            ("u1", "b", "page_view", AS_OF - DAY),  # says nothing about an item
            (None, "a", "purchase", AS_OF - DAY),  # anonymous
            ("u2", None, "purchase", AS_OF - DAY),  # no item
            ("u3", "c", "purchase", AS_OF + DAY),  # after as_of: the future
        ]
    )
    result = build_interactions(table, AS_OF, half_life_days=None)
    assert result.user_ids.tolist() == ["u1"] and result.item_ids.tolist() == ["a"]
    # as_of defaults to the latest event in the data, not the wall clock
    latest = build_interactions(table, half_life_days=7)
    assert latest.as_of == AS_OF + DAY
    assert cell(latest, "u1", "a") == pytest.approx(0.5 ** (2 / 7), rel=1e-5)


def test_pandas_input_and_naive_timestamps_mean_utc():
    table = events([("u1", "a", "purchase", AS_OF - 30 * DAY), ("u2", "a", "product_view", AS_OF)])
    frame = table.to_pandas()
    frame["occurred_at"] = frame["occurred_at"].dt.tz_localize(None)
    from_arrow = build_interactions(table, AS_OF)
    from_pandas = build_interactions(frame, AS_OF.replace(tzinfo=None))
    assert (from_arrow.matrix != from_pandas.matrix).nnz == 0
    assert from_pandas.user_ids.tolist() == ["u1", "u2"]


def test_fixed_indexes_keep_their_order_and_drop_unknown_ids():
    table = events([("u1", "a", "purchase", AS_OF), ("u9", "z", "purchase", AS_OF)])
    result = build_interactions(table, AS_OF, user_ids=np.array(["u2", "u1"]), item_ids=np.array(["b", "a"]))
    assert result.matrix.shape == (2, 2)
    assert result.matrix[1, 1] == pytest.approx(5.0) and result.matrix.nnz == 1


def test_strongest_event_per_cell():
    table = events(
        [
            ("u1", "a", "product_view", AS_OF),
            ("u1", "a", "purchase", AS_OF - DAY),
            ("u1", "b", "product_view", AS_OF),
        ]
    )
    result = build_interactions(table, AS_OF)
    code = result.strongest_event[0, result.item_index()["a"]]
    assert result.event_types[code - 1] == "purchase"
    assert result.event_types[result.strongest_event[0, result.item_index()["b"]] - 1] == "product_view"


def test_time_split_has_no_leakage():
    table = group_events(n_users=60, days=30, seed=1)
    first, last = time_range(table)
    cutoff = AS_OF - 7 * DAY
    split = time_split(table, cutoff)
    # training knows nothing after the cutoff: decay as of the cutoff, and an item first seen later is absent
    assert split.train.as_of == cutoff
    late = events([("u0000", "brand-new", "purchase", cutoff + DAY)])
    with_late = time_split(pa.concat_tables([table, late]), cutoff)
    assert "brand-new" not in with_late.train.item_ids.tolist()
    assert (with_late.train.matrix != split.train.matrix).nnz == 0

    # every test interaction happened at or after the cutoff, by a training user on a training item
    times = table["occurred_at"].to_pylist()
    users, items = table["user_id"].to_pylist(), table["item_id"].to_pylist()
    after = {(u, i) for u, i, t in zip(users, items, times, strict=True) if t >= cutoff}
    before = {(u, i) for u, i, t in zip(users, items, times, strict=True) if t < cutoff}
    assert split.test.nnz > 0
    for user, held in split.test_sets.items():
        for item in held:
            pair = (split.train.user_ids[user], split.train.item_ids[item])
            assert pair in after
            assert pair not in before  # drop_known: already-seen items cannot be hits
    assert split.stats["test_users"] == len(split.test_sets)
    assert split.end == last and first < cutoff


def test_time_split_keeps_known_items_when_asked():
    table = events(
        [
            ("u1", "a", "purchase", AS_OF - 10 * DAY),
            ("u1", "a", "purchase", AS_OF),
            ("u2", "a", "purchase", AS_OF),
        ]
    )
    split = time_split(table, AS_OF - DAY, drop_known=False)
    assert split.test_sets == {0: np.array([0])}  # u2 was not in training, so it cannot be tested
    assert time_split(table, AS_OF - DAY).test.nnz == 0


def test_time_split_rejects_an_end_before_the_cutoff():
    table = events([("u1", "a", "purchase", AS_OF)])
    with pytest.raises(ValueError):
        time_split(table, AS_OF, AS_OF - DAY)


def test_per_user_random_split_partitions_each_user():
    rng = np.random.default_rng(0)
    matrix = sp.random(50, 40, density=0.3, format="csr", random_state=rng, dtype=np.float32)
    matrix.data[:] = 1.0
    train, test = per_user_random_split(matrix, 0.25, seed=7)
    assert (train + test != matrix).nnz == 0
    assert train.multiply(test).nnz == 0
    counts = np.diff(matrix.indptr)
    assert (np.diff(train.indptr)[counts >= 1] >= 1).all()
    held = np.diff(test.indptr)
    np.testing.assert_array_equal(
        held[counts >= 2], np.clip(np.rint(counts * 0.25), 1, counts - 1)[counts >= 2]
    )
    again_train, again_test = per_user_random_split(matrix, 0.25, seed=7)
    assert (again_test != test).nnz == 0
    assert set(relevant_sets(test)) == set(np.flatnonzero(held))
