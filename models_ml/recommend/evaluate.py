"""Offline evaluation, rank tuning and the quality gate of a training run.

`evaluate` scores a fitted model's top-k lists (training items excluded) against held-out interactions.
`tune_svd` picks the SVD's rank, popularity damping and user normalisation on a validation split;
`train_and_evaluate` is a whole nightly training run:

1. windows relative to `as_of` (the run's logical date, or the latest event): test = the last
   `test_days`; validation = the `validation_days` before that, carved from the training window;
2. tune the SVD on (before validation) -> (validation), the test period unseen;
3. fit SVD and popularity on everything before the test window and evaluate both on it;
4. the gate: the SVD is published only if its NDCG@k beats popularity's (by `min_lift`) on enough test
   users; the returned model is refitted on all data up to `as_of` with the tuned parameters.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp

from models_ml.recommend import metrics
from models_ml.recommend.interactions import (
    DEFAULT_EVENT_WEIGHTS,
    DEFAULT_HALF_LIFE_DAYS,
    InteractionMatrix,
    as_arrow,
    build_interactions,
    time_range,
    time_split,
    to_utc,
)
from models_ml.recommend.models import PopularityRecommender, Recommender, SVDRecommender

log = logging.getLogger(__name__)


def _test_matrix(test: sp.spmatrix | Mapping[int, Sequence[int]], shape: tuple[int, int]) -> sp.csr_matrix:
    if isinstance(test, Mapping):
        rows = [np.full(len(items), user) for user, items in test.items()]
        cols = [np.asarray(items) for items in test.values()]
        rows_arr = np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, dtype=np.int64)
        cols_arr = np.concatenate(cols).astype(np.int64) if cols else np.zeros(0, dtype=np.int64)
        test = sp.csr_matrix((np.ones(len(rows_arr), dtype=np.float32), (rows_arr, cols_arr)), shape=shape)
    test = sp.csr_matrix(test, dtype=np.float32)
    if test.shape != shape:
        raise ValueError(f"test shape {test.shape} != training shape {shape}")
    test.sum_duplicates()
    test.eliminate_zeros()
    return test


def evaluate(
    model: Recommender,
    train: sp.spmatrix | InteractionMatrix | None,
    test: sp.spmatrix | Mapping[int, Sequence[int]],
    k: int = 10,
) -> dict[str, float]:
    """Mean precision, recall, NDCG and MAP at k over the users with test items, and catalogue coverage.

    `train` (the model's training matrix, or None to exclude nothing) marks items each user already had:
    they are never recommended. `test` is a users x items matrix (non-zero = relevant) or a mapping
    user index -> item indices. Coverage is the share of items in at least one evaluated top-k list.
    Returns keys precision@k, recall@k, ndcg@k, map@k, coverage@k, users (nan metrics if no test user).
    """
    shape = model.user_items.shape if model.user_items is not None else None
    if shape is None:
        raise RuntimeError("evaluate needs a fitted model")
    if isinstance(train, InteractionMatrix):
        train = train.matrix
    test_csr = _test_matrix(test, shape)
    users = np.flatnonzero(np.diff(test_csr.indptr))
    result = {f"{name}@{k}": float("nan") for name in ("precision", "recall", "ndcg", "map")}
    result[f"coverage@{k}"] = 0.0
    result["users"] = len(users)
    if len(users) == 0:
        return result
    recommended, _ = model.recommend_all(users, n=k, exclude_matrix=train)

    # a recommendation is a hit if its (user, item) cell is in the test matrix
    n_items = shape[1]
    test_keys = np.repeat(np.arange(shape[0], dtype=np.int64), np.diff(test_csr.indptr)) * n_items
    test_keys += test_csr.indices
    rec_keys = users[:, None] * n_items + recommended
    hits = np.isin(rec_keys, test_keys) & (recommended >= 0)
    per_user = metrics.metrics_from_hits(hits, np.diff(test_csr.indptr)[users], k)
    for name, values in per_user.items():
        result[f"{name}@{k}"] = float(values.mean())
    result[f"coverage@{k}"] = len(np.unique(recommended[recommended >= 0])) / n_items if n_items else 0.0
    return result


def sample_users(test: sp.csr_matrix, max_users: int | None, seed: int = 0) -> tuple[sp.csr_matrix, int]:
    """`test` keeping only a seeded sample of `max_users` of its users (all when None or fewer), and
    how many users it had: evaluation on big data measures a sample of users, not every one."""
    users = np.flatnonzero(np.diff(test.indptr))
    if max_users is None or len(users) <= max_users:
        return test, len(users)
    keep = np.zeros(test.shape[0], dtype=bool)
    keep[np.random.default_rng(seed).choice(users, size=max_users, replace=False)] = True
    sampled = sp.csr_matrix(sp.diags(keep.astype(np.float32)) @ test)
    sampled.eliminate_zeros()
    return sampled, len(users)


def tune_svd(
    train: sp.spmatrix | InteractionMatrix,
    validation: sp.spmatrix | Mapping[int, Sequence[int]],
    ranks: Sequence[int] = (4, 8, 16, 24, 32, 48, 64, 96, 128),
    popularity_dampings: Sequence[float] = (-0.25, 0.0, 0.25),
    user_norm_powers: Sequence[float] = (0.0, 0.5),
    k: int = 10,
    max_users: int | None = 5000,
    max_train_users: int | None = 100_000,
    **params: Any,
) -> tuple[SVDRecommender, list[dict[str, Any]]]:
    """The SVD whose rank, damping and user normalisation score the best NDCG@k on `validation`.

    One SVD per (damping, user normalisation) at the largest rank; smaller ranks are its leading
    factors (`with_rank`), so a whole grid costs a few fits. Ranks the matrix cannot hold are capped.
    Validation is on at most `max_users` users (a seeded sample) to bound the time on big data, and the
    candidates learn from at most `max_train_users` users: the validation sample and a seeded sample of
    the others. The fits are what the grid costs and they grow with the rows; ranking the candidates
    does not need every user (on 1M users, 100k keep the fits ~10x cheaper). The returned model is
    fitted on `train`, or on that sample of its rows when it has more users (for its parameters: refit
    it on the whole matrix to use it). Returns it and one row per candidate (params + validation
    metrics), in grid order.
    """
    matrix = train.matrix if isinstance(train, InteractionMatrix) else train
    seed = params.get("seed", 0)
    validation, _ = sample_users(_test_matrix(validation, matrix.shape), max_users, seed)
    if max_train_users is not None and matrix.shape[0] > max_train_users:
        matrix = sp.csr_matrix(matrix)
        evaluated = np.diff(validation.indptr) > 0
        others = np.flatnonzero(~evaluated & (np.diff(matrix.indptr) > 0))
        extra = max(0, max_train_users - int(evaluated.sum()))
        sampled = np.random.default_rng(seed).choice(others, size=min(extra, len(others)), replace=False)
        rows = np.union1d(np.flatnonzero(evaluated), sampled)
        log.info("tuning on %d of %d users (max_train_users)", len(rows), matrix.shape[0])
        matrix, validation = matrix[rows], validation[rows]
        train = matrix
    max_rank = max(1, min(matrix.shape) - 1)
    usable = sorted({min(rank, max_rank) for rank in ranks})
    table: list[dict[str, Any]] = []
    best: tuple[float, SVDRecommender] | None = None
    for damping in popularity_dampings:
        for user_norm in user_norm_powers:
            full = SVDRecommender(
                n_factors=usable[-1], popularity_damping=damping, user_norm_power=user_norm, **params
            ).fit(train)
            for rank in usable:
                candidate = full.with_rank(min(rank, len(full.singular_values)))
                scores = evaluate(candidate, matrix, validation, k)
                table.append(
                    {"n_factors": rank, "popularity_damping": damping, "user_norm_power": user_norm, **scores}
                )
                ndcg = scores[f"ndcg@{k}"] if np.isfinite(scores[f"ndcg@{k}"]) else -np.inf
                if best is None or ndcg > best[0]:
                    best = (ndcg, candidate)
    assert best is not None
    log.info("tuned SVD: %r with validation ndcg@%d %.4f", best[1], k, best[0])
    return best[1], table


def gate(
    model: Recommender,
    baseline: Recommender,
    train: sp.spmatrix,
    test: sp.spmatrix | Mapping[int, Sequence[int]],
    k: int = 10,
    min_lift: float = 0.0,
    max_users: int | None = 50_000,
    seed: int = 0,
) -> tuple[bool, str, dict[str, dict[str, float]]]:
    """The gate on its own: does `model` beat `baseline` on NDCG@k on this split? (passed, reason, metrics).

    Both are evaluated on the same test users: all of them, or a seeded sample of `max_users` when there
    are more. A user's NDCG lies in [0, 1], so the mean of 50,000 sampled users is within 0.0044 of all
    users' at 95% (1.96 x 0.5 / sqrt(50,000)), while evaluating each of 1M users costs minutes. Each
    metrics dict also holds `test_users`, how many users the test period had.
    """
    test_csr, test_users = sample_users(_test_matrix(test, model._fitted().shape), max_users, seed)
    scores = {
        "model": evaluate(model, train, test_csr, k),
        "baseline": evaluate(baseline, train, test_csr, k),
    }
    for result in scores.values():
        result["test_users"] = test_users
    key = f"ndcg@{k}"
    ours, theirs = scores["model"][key], scores["baseline"][key]
    passed = bool(np.isfinite(ours) and np.isfinite(theirs) and ours > theirs * (1 + min_lift))
    verdict = "beats" if passed else "does not beat"
    return passed, f"{model.kind} {key} {ours:.4f} {verdict} {baseline.kind} {theirs:.4f}", scores


class TrainingResult(NamedTuple):
    """What a training run hands to the publishing step; publish `model` only if `passed_gate`."""

    model: SVDRecommender
    metrics: dict[str, Any]
    passed_gate: bool
    reason: str


def train_and_evaluate(
    interactions: Any,
    as_of: dt.datetime | dt.date | str | None = None,
    *,
    test_days: float = 7.0,
    validation_days: float | None = None,
    weights: Mapping[str, float] = DEFAULT_EVENT_WEIGHTS,
    half_life_days: float | None = DEFAULT_HALF_LIFE_DAYS,
    ranks: Sequence[int] = (4, 8, 16, 24, 32, 48, 64, 96, 128),
    popularity_dampings: Sequence[float] = (-0.25, 0.0, 0.25),
    user_norm_powers: Sequence[float] = (0.0, 0.5),
    k: int = 10,
    min_lift: float = 0.0,
    min_test_users: int = 20,
    max_test_users: int | None = 50_000,
    refit: bool = True,
    seed: int = 0,
) -> TrainingResult:
    """One training run: tune, evaluate SVD and popularity on a time split, apply the gate, refit.

    `interactions` is an interaction table (see `interactions.build_interactions`); `as_of` defaults to
    its latest event. Validation defaults to as long as the test window, capped at a third of the
    training window so there is something left to train on. The gate passes when at least
    `min_test_users` users have test interactions and SVD NDCG@k > popularity NDCG@k * (1 + min_lift),
    measured on at most `max_test_users` of them (`gate`).
    `metrics` holds "svd" and "popularity" (test metrics), "tuning" (validation table), "params" (the
    chosen SVD parameters) and "windows".
    """
    started = time.perf_counter()
    table = as_arrow(interactions)
    first, last = time_range(table)
    as_of = last if as_of is None else to_utc(as_of)
    test_cutoff = as_of - dt.timedelta(days=test_days)
    train_span = max((test_cutoff - first).total_seconds() / 86_400, 0.0)
    if validation_days is None:
        validation_days = min(test_days, train_span / 3)
    validation_cutoff = test_cutoff - dt.timedelta(days=validation_days)
    windows = {
        "as_of": as_of.isoformat(),
        "test_from": test_cutoff.isoformat(),
        "validation_from": validation_cutoff.isoformat(),
        "first_event": first.isoformat(),
    }
    split_args = {"weights": weights, "half_life_days": half_life_days}

    # 1. tune on a validation period inside the training window (the test period stays unseen)
    params: dict[str, Any] = {"n_factors": 32, "popularity_damping": 0.0, "user_norm_power": 0.0}
    tuning: list[dict[str, Any]] = []
    validation = time_split(
        table, validation_cutoff, test_cutoff - dt.timedelta(microseconds=1), **split_args
    )
    if validation.stats["test_users"] > 0 and min(validation.train.shape) > 1:
        tuned, tuning = tune_svd(
            validation.train, validation.test, ranks, popularity_dampings, user_norm_powers, k=k, seed=seed
        )
        params = {key: tuned.params[key] for key in params}
    else:
        log.warning("no validation interactions before %s: SVD keeps default parameters", test_cutoff)

    # 2. evaluate the tuned SVD and the baseline on the test period
    split = time_split(table, test_cutoff, as_of, **split_args)
    results: dict[str, Any] = {"params": params, "tuning": tuning, "windows": windows, "split": split.stats}
    if min(split.train.shape) < 2:
        reason = f"too little training data before {test_cutoff.isoformat()}: {split.train.shape}"
        model = SVDRecommender(**params, seed=seed).fit(build_interactions(table, as_of, **split_args))
        return TrainingResult(model, results, False, reason)
    svd = SVDRecommender(**params, seed=seed).fit(split.train)
    popularity = PopularityRecommender().fit(split.train)

    # 3. the gate
    passed, reason, scores = gate(
        svd, popularity, split.train.matrix, split.test, k, min_lift, max_test_users, seed
    )
    results["svd"], results["popularity"] = scores["model"], scores["baseline"]
    n_users, of_users = results["svd"]["users"], results["svd"]["test_users"]
    if n_users < min_test_users:
        passed, reason = False, f"only {n_users} test users (< {min_test_users}), too few to tell: {reason}"
    elif n_users < of_users:
        reason = f"{reason} on a sample of {n_users} of {of_users} test users"
    else:
        reason = f"{reason} on {n_users} test users"
    log.info("quality gate %s: %s", "passed" if passed else "FAILED", reason)

    # 4. the model to publish learns from everything up to as_of, with the parameters evaluated above
    model = svd
    if refit:
        model = SVDRecommender(**params, seed=seed).fit(build_interactions(table, as_of, **split_args))
    model.metadata.update(
        {
            "as_of": as_of.isoformat(),
            "params": params,
            "test_metrics": results["svd"],
            "baseline_metrics": results["popularity"],
            "passed_gate": passed,
            "gate_reason": reason,
        }
    )
    results["seconds"] = time.perf_counter() - started
    return TrainingResult(model, results, passed, reason)
