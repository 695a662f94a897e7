"""Small vectorised helpers for drawing from per-row distributions and walking grouped arrays."""

from __future__ import annotations

import numpy as np


def cumulative(prefs: np.ndarray) -> np.ndarray:
    """Row-wise cumulative preferences with the last column forced to 1 (for inverse-CDF sampling)."""
    cum = np.cumsum(prefs, axis=1)
    cum[:, -1] = 1.0
    return cum


def sample_rows(cum: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per entry of `rows` from that row's categorical distribution (rows of `cum`)."""
    u = rng.random(len(rows))
    return (u[:, None] > cum[rows]).sum(axis=1)


def weighted_pick(weights: dict[int, float], n: int, rng: np.random.Generator) -> np.ndarray:
    """n draws of the keys of `weights`, with probabilities proportional to the values."""
    keys = np.array(list(weights))
    cum = np.cumsum(list(weights.values()))
    return keys[np.minimum(np.searchsorted(cum / cum[-1], rng.random(n)), len(keys) - 1)]


def group_starts(groups: np.ndarray) -> np.ndarray:
    """True where a run of equal, non-negative group ids begins (groups must be sorted)."""
    return np.diff(groups, prepend=-1) != 0


def sample_members(
    item_group: np.ndarray,
    weights: np.ndarray,
    groups: np.ndarray,
    rng: np.random.Generator,
    eligible: np.ndarray | None = None,
) -> np.ndarray:
    """For each entry of `groups`, one item of that group, drawn by weight among the eligible items."""
    out = np.empty(len(groups), dtype=np.int64)
    u = rng.random(len(groups))
    for g in np.unique(groups):
        members = np.flatnonzero((item_group == g) if eligible is None else (item_group == g) & eligible)
        cum = np.cumsum(weights[members])
        mask = groups == g
        out[mask] = members[np.minimum(np.searchsorted(cum, u[mask] * cum[-1]), len(members) - 1)]
    return out


# relative traffic per UTC hour: quiet nights, busy evenings
HOUR_WEIGHTS = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 3.5, 3.5, 4, 3.8, 3.5, 3.5, 3.8, 4.2, 5, 6, 6.5, 6, 4, 2]
)


def session_starts(day_start_ms: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n session start times (epoch ms) within the day, following HOUR_WEIGHTS."""
    hour = weighted_pick(dict(enumerate(HOUR_WEIGHTS)), n, rng)
    return day_start_ms + hour * 3_600_000 + rng.integers(0, 3_600_000, size=n)


def session_times(
    start_ms: np.ndarray, session: np.ndarray, gap_ms: np.ndarray, day_end_ms: int
) -> np.ndarray:
    """Event times: the session's start plus the gaps before each later event (`session` sorted).

    A session that would run past the end of the day starts earlier instead, so a day's file only holds
    that day's events. Every session must have at least one event.
    """
    first = group_starts(session)
    elapsed = np.cumsum(np.where(first, 0, gap_ms))
    ts = start_ms[session] + elapsed - elapsed[np.flatnonzero(first)][session]
    last = np.flatnonzero(np.roll(first, -1))
    overrun = np.maximum(0, ts[last] - day_end_ms)
    return ts - overrun[session]
