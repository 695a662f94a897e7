"""Top-k ranking metrics for recommendations: pure functions, no model or data access.

Conventions shared by every metric here (the same as Microsoft Recommenders and implicit):

- `recommended` is one user's ranked list, best first, without repeats; only its first `k` entries count.
- `relevant` is the set of items that user interacted with in the test period (binary relevance).
- A list shorter than `k` is scored as if padded with misses (precision still divides by `k`).
- A user with no relevant items scores 0.0 on every metric; evaluation code leaves such users out
  rather than averaging their zeros in (see `mean_over_users`).

`metrics_from_hits` computes the same numbers for many users at once from a boolean hit matrix; the
per-user functions are the reference it is tested against.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

import numpy as np

# discount of rank position i (0-based): 1 / log2(i + 2)
_MAX_K_CACHE = 1024
_DISCOUNTS = 1.0 / np.log2(np.arange(2, _MAX_K_CACHE + 2))


def _discounts(k: int) -> np.ndarray:
    return _DISCOUNTS[:k] if k <= _MAX_K_CACHE else 1.0 / np.log2(np.arange(2, k + 2))


def _hits(recommended: Sequence, relevant: Collection, k: int) -> np.ndarray:
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    relevant = relevant if isinstance(relevant, set | frozenset) else set(relevant)
    return np.fromiter((item in relevant for item in list(recommended)[:k]), dtype=bool)


def precision_at_k(recommended: Sequence, relevant: Collection, k: int = 10) -> float:
    """Share of the top-k slots that hold a relevant item: hits@k / k.

    Range [0, 1]; 1 only if all k slots are relevant (impossible when fewer than k items are relevant).
    """
    return float(_hits(recommended, relevant, k).sum() / k)


def recall_at_k(recommended: Sequence, relevant: Collection, k: int = 10) -> float:
    """Share of the relevant items found in the top k: hits@k / |relevant|.

    Range [0, 1]; 0.0 when `relevant` is empty. Not capped at k, so a user with more than k relevant
    items cannot reach 1.
    """
    n_relevant = len(set(relevant))
    if n_relevant == 0:
        return 0.0
    return float(_hits(recommended, relevant, k).sum() / n_relevant)


def ndcg_at_k(recommended: Sequence, relevant: Collection, k: int = 10) -> float:
    """Normalised discounted cumulative gain with binary gains: DCG@k / IDCG@k.

    DCG@k = sum over hit positions i (0-based) of 1 / log2(i + 2); IDCG@k is the DCG of a perfect list,
    i.e. min(k, |relevant|) hits at the top. Range [0, 1]; 0.0 when `relevant` is empty; 1 when the first
    min(k, |relevant|) slots are all relevant.
    """
    n_relevant = len(set(relevant))
    if n_relevant == 0:
        return 0.0
    hits = _hits(recommended, relevant, k)
    dcg = float(_discounts(len(hits))[hits].sum())
    idcg = float(_discounts(min(k, n_relevant)).sum())
    return dcg / idcg


def map_at_k(recommended: Sequence, relevant: Collection, k: int = 10) -> float:
    """Average precision at k (one user's term of MAP@k).

    AP@k = (sum over hit positions i of precision@(i+1)) / min(k, |relevant|). Range [0, 1]; 0.0 when
    `relevant` is empty; 1 when the first min(k, |relevant|) slots are all relevant. (Some libraries divide
    by |relevant| instead; with min(k, ...) a perfect top-k list always scores 1.)
    """
    n_relevant = len(set(relevant))
    if n_relevant == 0:
        return 0.0
    hits = _hits(recommended, relevant, k)
    if not hits.any():
        return 0.0
    precision_at_hits = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
    return float(precision_at_hits.sum() / min(k, n_relevant))


def catalogue_coverage(recommended_lists: Iterable[Sequence], n_items: int, k: int | None = None) -> float:
    """Share of the catalogue that appears in at least one user's (top-k) list: |distinct items| / n_items.

    Range [0, 1]; 0.0 for an empty catalogue or no lists. Negative entries (padding) are ignored.
    """
    if n_items <= 0:
        return 0.0
    seen: set = set()
    for items in recommended_lists:
        seen.update(item for item in list(items)[:k] if not (isinstance(item, int | np.integer) and item < 0))
    return len(seen) / n_items


Metric = Callable[[Sequence, Collection, int], float]


def mean_over_users(
    metric: Metric, recommended: Sequence[Sequence], relevant: Sequence[Collection], k: int = 10
) -> float:
    """Mean of `metric` over the users that have at least one relevant item (others are skipped).

    `recommended[u]` and `relevant[u]` belong to the same user. Same range as `metric`; nan when no user
    has a relevant item (nothing was measured).
    """
    if len(recommended) != len(relevant):
        raise ValueError("recommended and relevant must have one entry per user")
    values = [metric(recs, rel, k) for recs, rel in zip(recommended, relevant, strict=True) if len(rel) > 0]
    return float(np.mean(values)) if values else float("nan")


def metrics_from_hits(
    hits: np.ndarray, n_relevant: np.ndarray, k: int | None = None
) -> dict[str, np.ndarray]:
    """Per-user precision, recall, NDCG and AP at k, vectorised; same definitions as the functions above.

    `hits` is a boolean (n_users, >= k) matrix, `hits[u, i]` true when user u's i-th recommendation is
    relevant; `n_relevant[u]` is |relevant| for user u. Returns arrays of length n_users keyed
    "precision", "recall", "ndcg", "map"; users with no relevant item get 0.0.
    """
    hits = np.asarray(hits, dtype=bool)
    k = hits.shape[1] if k is None else k
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    if hits.shape[1] < k:  # shorter lists count as padded with misses
        hits = np.pad(hits, ((0, 0), (0, k - hits.shape[1])))
    hits = hits[:, :k]
    n_relevant = np.asarray(n_relevant, dtype=np.float64)
    n_hits = hits.sum(axis=1)
    has_relevant = n_relevant > 0
    safe_relevant = np.where(has_relevant, n_relevant, 1.0)
    capped = np.minimum(safe_relevant, k).astype(np.int64)

    discounts = _discounts(k)
    dcg = hits @ discounts
    idcg = np.cumsum(discounts)[capped - 1]
    precision_at_i = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    ap = (precision_at_i * hits).sum(axis=1) / capped

    zero = np.zeros(len(hits))
    return {
        "precision": n_hits / k,
        "recall": np.where(has_relevant, n_hits / safe_relevant, zero),
        "ndcg": np.where(has_relevant, dcg / idcg, zero),
        "map": np.where(has_relevant, ap, zero),
    }
