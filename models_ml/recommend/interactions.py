"""Implicit-feedback matrices from interaction events, and the train/test splits evaluation uses.

An interaction table has one row per event: `user_id`, `item_id`, `event_type`, `occurred_at` (an Arrow
table or a pandas frame; timestamps naive-as-UTC or tz-aware). Each event counts
`weight[event_type] * 0.5 ** (age_days / half_life_days)`, its age measured from a given `as_of` (the
run's logical date or a split's cutoff, never the wall clock). Cells are summed per (user, item) and
clipped at 0, so a removal from the cart can cancel an add-to-cart but never make a cell negative.
Events after `as_of`, of unweighted types, or with no user or item are dropped.

`WAREHOUSE_INTERACTIONS_SQL` is the query the nightly job runs to get this table from the warehouse; the
functions here never touch the warehouse themselves.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

log = logging.getLogger(__name__)

# view < cart < purchase; a removal takes back part of an add-to-cart. Types not listed (page_view,
# login, ...) say nothing about an item and are ignored.
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "product_view": 1.0,
    "add_to_cart": 3.0,
    "checkout_started": 3.0,
    "purchase": 5.0,
    "remove_from_cart": -1.0,
}
DEFAULT_HALF_LIFE_DAYS = 30.0

COLUMNS = ("user_id", "item_id", "event_type", "occurred_at")

# Logged-in product events, plus CRM order lines as purchases (the CRM is the record of what was bought;
# the events' own `purchase` rows would count each purchase twice). Cancelled or returned orders do not
# count. Customer ids are the person key until identity resolution provides one.
# one row per product interaction of a person (events by logged-in user, then email, then cookie, the
# precedence of the dbt macro person_of; CRM order lines by customer)
WAREHOUSE_INTERACTIONS_SQL = """
with identities as (
    select identifier_type, identifier_value, person_id from ml.identity_map
)
select
    coalesce(by_user_id.person_id, by_email.person_id, by_anonymous_id.person_id) as user_id,
    events.product_id as item_id,
    events.event_type,
    events.occurred_at
from staging.stg_events__events as events
left join identities as by_user_id
    on by_user_id.identifier_type = 'user_id' and events.user_id = by_user_id.identifier_value
left join identities as by_email
    on by_email.identifier_type = 'email' and events.email = by_email.identifier_value
left join identities as by_anonymous_id
    on by_anonymous_id.identifier_type = 'anonymous_id' and events.anonymous_id = by_anonymous_id.identifier_value
where events.product_id is not null
    and events.event_type <> 'purchase'
    and coalesce(by_user_id.person_id, by_email.person_id, by_anonymous_id.person_id) is not null
union all
select
    customers.person_id as user_id,
    order_items.product_id as item_id,
    'purchase' as event_type,
    order_items.ordered_at as occurred_at
from intermediate.int_order_items_converted as order_items
inner join identities as customers
    on customers.identifier_type = 'customer_id'
    and customers.identifier_value = cast(order_items.customer_id as varchar)
where not order_items.is_cancelled_or_returned
"""

_US_PER_DAY = 86_400 * 1_000_000


@dataclass
class InteractionMatrix:
    """A users x items CSR matrix of interaction strengths with the ids of its rows and columns.

    `strongest_event` (optional, same shape) holds, per cell, 1 + the position in `event_types` of the
    highest-weighted event type seen there; recommendation reasons use it ("... you bought").
    """

    matrix: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    strongest_event: sp.csr_matrix | None = None
    event_types: tuple[str, ...] = ()
    as_of: dt.datetime | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def user_index(self) -> dict[Any, int]:
        return {user: i for i, user in enumerate(self.user_ids.tolist())}

    def item_index(self) -> dict[Any, int]:
        return {item: i for i, item in enumerate(self.item_ids.tolist())}


@dataclass
class TimeSplit:
    """Train on events before `cutoff`; test on the positive events in [cutoff, end].

    `test` has the shape of `train.matrix` (binary): only users and items known in training can be
    scored, so later ones are left out; with `drop_known`, items a user already had in training are left
    out too (recommendations exclude them, so they could never be hits).
    """

    train: InteractionMatrix
    test: sp.csr_matrix
    cutoff: dt.datetime
    end: dt.datetime
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def test_sets(self) -> dict[int, np.ndarray]:
        """user index -> item indices of that user's test interactions (users with at least one)."""
        return relevant_sets(self.test)


def relevant_sets(test: sp.csr_matrix) -> dict[int, np.ndarray]:
    """user index -> sorted item indices, for every row of a binary test matrix that has any."""
    test = sp.csr_matrix(test)
    test.sort_indices()
    rows = np.flatnonzero(np.diff(test.indptr))
    return {int(u): test.indices[test.indptr[u] : test.indptr[u + 1]].copy() for u in rows}


def to_utc(value: dt.datetime | dt.date | str | np.datetime64) -> dt.datetime:
    """A timezone-aware UTC datetime from a datetime (naive means UTC), date, ISO string or datetime64."""
    if isinstance(value, np.datetime64):
        value = value.astype("datetime64[us]").astype(dt.datetime)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def _epoch_us(value: dt.datetime | dt.date | str | np.datetime64) -> int:
    delta = to_utc(value) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_epoch_us(value: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(value))


def as_arrow(table: Any, columns: Collection[str] = COLUMNS) -> pa.Table:
    """The interaction columns as an Arrow table (from Arrow, a batch reader, pandas or a dict of columns)."""
    if isinstance(table, pa.RecordBatchReader):  # e.g. DuckDB's `.arrow()`
        table = table.read_all()
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    elif isinstance(table, Mapping):
        table = pa.table(dict(table))
    elif not isinstance(table, pa.Table):  # pandas (or anything Arrow can convert)
        table = pa.Table.from_pandas(table, preserve_index=False)
    missing = [name for name in columns if name not in table.column_names]
    if missing:
        raise ValueError(f"interaction table lacks columns {missing}; it has {table.column_names}")
    return table.select(list(columns))


def _timestamps_us(column: pa.ChunkedArray) -> np.ndarray:
    """Microseconds since the epoch (UTC; naive timestamps are taken as UTC); nulls become int64 min."""
    kind = column.type
    if pa.types.is_date(kind):
        column = column.cast(pa.timestamp("us"))
    elif pa.types.is_timestamp(kind):
        column = column.cast(pa.timestamp("us", tz=kind.tz))
    else:
        raise TypeError(f"occurred_at must be a timestamp or date column, got {kind}")
    values = column.cast(pa.int64()).fill_null(np.iinfo(np.int64).min)
    return values.to_numpy()


def _encode(column: pa.ChunkedArray, ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Codes of `column` in `ids` (-1 where absent); `ids` defaults to the sorted distinct values."""
    if ids is None:
        distinct = pc.unique(column.drop_null())
        distinct = distinct.take(pc.array_sort_indices(distinct))
        ids = distinct.to_numpy(zero_copy_only=False)
        value_set = distinct
    else:
        ids = np.asarray(ids)
        value_set = pa.array(ids.tolist(), type=column.type) if len(ids) else pa.array([], type=column.type)
    codes = pc.index_in(column, value_set=value_set).fill_null(-1).to_numpy(zero_copy_only=False)
    return codes.astype(np.int64), ids


def time_range(table: Any) -> tuple[dt.datetime, dt.datetime]:
    """The first and last `occurred_at` of an interaction table (UTC)."""
    times = _timestamps_us(as_arrow(table)["occurred_at"])
    times = times[times != np.iinfo(np.int64).min]
    if len(times) == 0:
        raise ValueError("the interaction table has no timestamped events")
    return _from_epoch_us(int(times.min())), _from_epoch_us(int(times.max()))


def build_interactions(
    table: Any,
    as_of: dt.datetime | dt.date | str | None = None,
    *,
    weights: Mapping[str, float] = DEFAULT_EVENT_WEIGHTS,
    half_life_days: float | None = DEFAULT_HALF_LIFE_DAYS,
    user_ids: np.ndarray | None = None,
    item_ids: np.ndarray | None = None,
    since: dt.datetime | dt.date | str | None = None,
) -> InteractionMatrix:
    """The users x items matrix of time-decayed, weighted interactions as of `as_of`.

    `as_of` defaults to the latest event in the table (never the wall clock); events after it are
    ignored, and with `since` so are events before that. `half_life_days=None` turns decay off. Given
    `user_ids` / `item_ids`, rows and columns follow those indexes (events of other users or items are
    dropped: e.g. a test period scored against the training index, or a catalogue-wide item index);
    otherwise they are the sorted distinct ids that have any weighted event.
    """
    table = as_arrow(table)
    times = _timestamps_us(table["occurred_at"])
    valid = times != np.iinfo(np.int64).min
    if as_of is None:
        if not valid.any():
            raise ValueError("as_of is required when the table has no timestamped events")
        as_of_us = int(times[valid].max())
    else:
        as_of_us = _epoch_us(as_of)
    keep = valid & (times <= as_of_us)
    if since is not None:
        keep &= times >= _epoch_us(since)

    event_types = tuple(weights)
    type_codes, _ = _encode(table["event_type"], np.array(event_types, dtype=object))
    keep &= type_codes >= 0
    keep &= table["user_id"].is_valid().to_numpy(zero_copy_only=False)
    keep &= table["item_id"].is_valid().to_numpy(zero_copy_only=False)

    selected = table.filter(pa.array(keep))
    times, type_codes = times[keep], type_codes[keep]
    users, user_ids = _encode(selected["user_id"], user_ids)
    items, item_ids = _encode(selected["item_id"], item_ids)
    known = (users >= 0) & (items >= 0)
    users, items, times, type_codes = users[known], items[known], times[known], type_codes[known]

    base = np.array([weights[name] for name in event_types], dtype=np.float64)[type_codes]
    if half_life_days is None:
        decay = np.ones(len(times))
    else:
        if half_life_days <= 0:
            raise ValueError("half_life_days must be positive (or None for no decay)")
        age_days = (as_of_us - times) / _US_PER_DAY
        decay = np.exp2(-age_days / half_life_days)
    shape = (len(user_ids), len(item_ids))
    matrix = sp.csr_matrix((base * decay, (users, items)), shape=shape, dtype=np.float64)
    matrix.sum_duplicates()
    np.clip(matrix.data, 0.0, None, out=matrix.data)
    matrix.eliminate_zeros()
    matrix = matrix.astype(np.float32)

    strongest = _strongest_event(users, items, type_codes, base, shape)
    log.info(
        "interaction matrix: %d users x %d items, %d non-zero cells from %d events (as of %s)",
        shape[0],
        shape[1],
        matrix.nnz,
        len(users),
        _from_epoch_us(as_of_us).isoformat(),
    )
    return InteractionMatrix(
        matrix=matrix,
        user_ids=user_ids,
        item_ids=item_ids,
        strongest_event=strongest,
        event_types=event_types,
        as_of=_from_epoch_us(as_of_us),
    )


def _strongest_event(
    users: np.ndarray, items: np.ndarray, type_codes: np.ndarray, base: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """Per cell, 1 + the code of its highest-weighted event type (0 = no event)."""
    if len(users) == 0:
        return sp.csr_matrix(shape, dtype=np.int16)
    cell = users * shape[1] + items
    order = np.lexsort((base, cell))  # by cell, then weight: the last of each cell is its strongest
    last = np.r_[cell[order][1:] != cell[order][:-1], True]
    chosen = order[last]
    return sp.csr_matrix(
        ((type_codes[chosen] + 1).astype(np.int16), (users[chosen], items[chosen])), shape=shape
    )


def time_split(
    table: Any,
    cutoff: dt.datetime | dt.date | str,
    end: dt.datetime | dt.date | str | None = None,
    *,
    weights: Mapping[str, float] = DEFAULT_EVENT_WEIGHTS,
    half_life_days: float | None = DEFAULT_HALF_LIFE_DAYS,
    test_event_types: Collection[str] | None = None,
    drop_known: bool = True,
    since: dt.datetime | dt.date | str | None = None,
) -> TimeSplit:
    """Train matrix from events before `cutoff` (decayed as of the cutoff), test set from [cutoff, end].

    Test relevance is binary: any event of `test_event_types` (default: every positively weighted type)
    by a training user on a training item. `end` defaults to the latest event; nothing after it is used.
    """
    table = as_arrow(table)
    times = _timestamps_us(table["occurred_at"])
    cutoff_us = _epoch_us(cutoff)
    end_us = int(times.max()) if end is None else _epoch_us(end)
    if end_us < cutoff_us:
        raise ValueError(
            f"test end {_from_epoch_us(end_us)} is before the cutoff {_from_epoch_us(cutoff_us)}"
        )

    before = table.filter(pa.array(times < cutoff_us))
    train = build_interactions(before, cutoff, weights=weights, half_life_days=half_life_days, since=since)

    if test_event_types is None:
        test_event_types = [name for name, weight in weights.items() if weight > 0]
    after = table.filter(pa.array((times >= cutoff_us) & (times <= end_us)))
    test_matrix = build_interactions(
        after,
        _from_epoch_us(end_us),
        weights={name: 1.0 for name in test_event_types},
        half_life_days=None,
        user_ids=train.user_ids,
        item_ids=train.item_ids,
    ).matrix
    test_matrix.data[:] = 1.0
    if drop_known:
        test_matrix = test_matrix - test_matrix.multiply(train.matrix > 0)
        test_matrix.eliminate_zeros()
    test_matrix = sp.csr_matrix(test_matrix, dtype=np.float32)
    stats = {
        "train_events": before.num_rows,
        "test_events": after.num_rows,
        "train_users": len(train.user_ids),
        "train_items": len(train.item_ids),
        "test_users": int((np.diff(test_matrix.indptr) > 0).sum()),
        "test_interactions": int(test_matrix.nnz),
    }
    log.info("time split at %s: %s", _from_epoch_us(cutoff_us).isoformat(), stats)
    return TimeSplit(train, test_matrix, _from_epoch_us(cutoff_us), _from_epoch_us(end_us), stats)


def per_user_random_split(
    matrix: sp.spmatrix, test_fraction: float = 0.25, seed: int = 0
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Hold out round(test_fraction * n) random items of every user with n >= 2 items (at least one).

    Returns (train, test) with the shape of `matrix`; every user keeps at least one training item. The
    protocol of most published top-N benchmarks (e.g. MovieLens 75/25); seeded, so repeatable.
    """
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must be in (0, 1)")
    matrix = sp.csr_matrix(matrix)
    matrix.sum_duplicates()
    rng = np.random.default_rng(seed)
    counts = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), counts)
    order = np.lexsort((rng.random(matrix.nnz), rows))  # a random order within each row
    position = np.empty(matrix.nnz, dtype=np.int64)
    position[order] = np.arange(matrix.nnz) - np.repeat(matrix.indptr[:-1], counts)
    n_test = np.where(counts >= 2, np.clip(np.rint(counts * test_fraction), 1, counts - 1), 0)
    is_test = position < n_test[rows]

    def part(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(
            (matrix.data[mask], (rows[mask], matrix.indices[mask])), shape=matrix.shape, dtype=matrix.dtype
        )

    return part(~is_test), part(is_test)
