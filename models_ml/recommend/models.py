"""Top-N recommenders over an implicit users x items matrix, all with the same small API.

- `PopularityRecommender`: the baseline every model must beat (most-interacted items for everyone).
- `SVDRecommender`: PureSVD (truncated SVD, scikit-learn randomized) with optional damping of popular
  columns; its rank must be tuned per run (`SVDRecommender.tune`), as it is only good at a small rank.
- `ItemKNNRecommender`: cosine item-item neighbours with shrinkage, a strong simple peer.
- `EASERecommender`: the closed-form linear item-item model (Steck 2019); strongest of the simple peers,
  but it inverts an items x items matrix, so it is only for catalogues of a few tens of thousands.

The API, shared through `Recommender`: `fit(matrix)`, `recommend(user, n, exclude) -> (items, scores)`,
`recommend_all(users, n, exclude_matrix)` (batched, vectorised), `similar_items(item, n)`,
`explain(users, items)` (which history item drove a recommendation), `save(dir)` and `Recommender.load(dir)`
(a `.npz` of arrays plus a JSON file of parameters and metadata: no pickle).

Models work on row/column positions of the matrix they were fitted on; when fitted on an
`InteractionMatrix` they also keep its user and item ids (`user_ids`, `item_ids`) so callers can map back.
Every item-based model scores a user as `history @ S` for an implicit item x item matrix `S`, so any
user's row can be scored (`score_history`), including a user who was not in the training matrix.
"""

from __future__ import annotations

import json
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack
from sklearn.decomposition import TruncatedSVD

from models_ml.recommend.interactions import InteractionMatrix

log = logging.getLogger(__name__)

BatchRanker = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # user positions -> top n (items, scores)

FORMAT_VERSION = 1
# SVD top n: items scored first (`head_top_n`): the 1/HEAD_FRACTION with the largest factor norms, at least
HEAD_FRACTION, HEAD_MIN_ITEMS = 32, 1024
_REGISTRY: dict[str, type[Recommender]] = {}


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the positions and values of the n largest finite scores, best first.

    Rows with fewer than n finite scores are padded with position -1 and score nan. Ties are broken
    deterministically (same input, same output; equal scores taken are ordered by position). The input
    is not copied (it may be a batch of 100M scores) unless it holds a nan.
    """
    scores = np.atleast_2d(scores)
    n_rows, n_cols = scores.shape
    n_take = min(n, n_cols)
    if n_take <= 0:
        return np.full((n_rows, n), -1, dtype=np.int64), np.full((n_rows, n), np.nan, dtype=np.float32)
    if np.isnan(scores).any():  # nan would sort above +inf
        scores = np.where(np.isnan(scores), -np.inf, scores)
    block = _candidate_block(n_cols, n_take)
    if block:  # narrow each row to the n_take blocks with the largest maxima first
        positions, candidates = _best_blocks(scores, n_take, block)
    else:
        positions, candidates = None, scores
    n_candidates = candidates.shape[1]
    if n_take < n_candidates:
        part = np.argpartition(candidates, n_candidates - n_take, axis=1)[:, n_candidates - n_take :]
    else:
        part = np.broadcast_to(np.arange(n_candidates), (n_rows, n_candidates))
    values = np.take_along_axis(candidates, part, axis=1)
    if positions is not None:
        part = np.take_along_axis(positions, part, axis=1)
    order = np.lexsort((part, -values), axis=1)
    items = np.take_along_axis(part, order, axis=1).astype(np.int64)
    values = np.take_along_axis(values, order, axis=1).astype(np.float32)
    missing = ~np.isfinite(values)
    items[missing] = -1
    values[missing] = np.nan
    if n_take < n:
        items = np.pad(items, ((0, 0), (0, n - n_take)), constant_values=-1)
        values = np.pad(values, ((0, 0), (0, n - n_take)), constant_values=np.nan)
    return items, values


def _candidate_block(n_cols: int, n_take: int) -> int:
    """Block width for `top_n`'s two-step selection, or 0 where one argpartition is as cheap.

    About sqrt(n_cols / n_take) columns a block makes the block maxima and the candidates about equally
    many; below 64 columns a block the second step saves too little to pay for the first.
    """
    block = int(np.sqrt(n_cols / max(n_take, 1)))
    return block if block >= 64 else 0


def _best_blocks(scores: np.ndarray, n_take: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the column positions and scores of the n_take blocks (of `block` columns) with the
    largest maxima.

    Exact: a block not taken has a maximum no larger than each of the n_take taken ones, so each of its
    items has at least n_take candidates at least as large.
    """
    n_rows, n_cols = scores.shape
    maxima = np.maximum.reduceat(scores, np.arange(0, n_cols, block), axis=1)
    n_blocks = maxima.shape[1]
    chosen = np.argpartition(maxima, n_blocks - n_take, axis=1)[:, n_blocks - n_take :]
    positions = (chosen[:, :, None] * block + np.arange(block)).reshape(n_rows, n_take * block)
    overhang = positions >= n_cols  # past the last column, in a shorter last block
    np.minimum(positions, n_cols - 1, out=positions)
    candidates = np.take_along_axis(scores, positions, axis=1)
    candidates[overhang] = -np.inf  # never finite, so never taken
    return positions, candidates


def head_top_n(
    user_factors: np.ndarray,
    head_factors: np.ndarray,
    head_items: np.ndarray,
    tail_norm: float,
    n: int,
    excluded: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top n of low-rank scores u . v_i among the head items only, and which rows that is exact for.

    `head_factors` (k, len(head_items)) are the factors of the items with the largest norms, `head_items`
    their positions (ascending, so ties break by position as in `top_n`); every other item has a factor
    norm of at most `tail_norm`. No item outside the head can score above |u| * tail_norm (Cauchy-Schwarz),
    so a row whose n-th best head score is above that bound has its exact top n. `excluded` (rows, head
    columns) are never taken. Returns (items, scores, exact): the rows not `exact` must be scored in full.
    """
    scores = user_factors @ head_factors
    if excluded is not None:
        scores[excluded] = -np.inf
    positions, values = top_n(scores, n)
    items = np.where(positions >= 0, head_items[np.maximum(positions, 0)], -1)
    # a relative margin keeps float32 rounding of the tail's scores from slipping past the bound
    bound = np.linalg.norm(user_factors, axis=1) * tail_norm * (1 + 1e-4)
    with np.errstate(invalid="ignore"):
        exact = values[:, -1] > bound  # nan (fewer than n candidates) is never exact
    return items, values, exact


def _as_csr(matrix: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    return csr


def _storable_ids(ids: np.ndarray) -> np.ndarray:
    """Ids as an array np.load can read without pickle: numbers stay numbers, anything else is text."""
    ids = np.asarray(ids)
    if ids.dtype.kind in "iuU":
        return ids
    return np.array([str(value) for value in ids.tolist()], dtype=str)


class Recommender(ABC):
    """Common API; subclasses implement `_fit`, `score_history`, `_item_similarity` and their arrays."""

    kind: ClassVar[str]

    def __init__(self) -> None:
        self.user_items: sp.csr_matrix | None = None
        self.user_ids: np.ndarray | None = None
        self.item_ids: np.ndarray | None = None
        self.metadata: dict[str, Any] = {}
        self.fit_seconds: float = 0.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _REGISTRY[cls.kind] = cls

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- what subclasses provide ---------------------------------------------------------------------

    @property
    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The constructor arguments (JSON-serialisable), saved with the model."""

    @abstractmethod
    def _fit(self, matrix: sp.csr_matrix) -> None: ...

    @abstractmethod
    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        """Dense (rows, n_items) scores for interaction rows over the fitted items (any users)."""

    @abstractmethod
    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        """Dense (len(items), n_items) similarity of the given items to every item."""

    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray]) -> None: ...

    def _contributions(self, history_items: np.ndarray, targets: np.ndarray) -> np.ndarray | None:
        """(len(history_items), len(targets)) item x item weights behind the scores, or None."""
        return None

    # -- shared behaviour ------------------------------------------------------------------------------

    @property
    def n_users(self) -> int:
        return self._fitted().shape[0]

    @property
    def n_items(self) -> int:
        return self._fitted().shape[1]

    def _fitted(self) -> sp.csr_matrix:
        if self.user_items is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted")
        return self.user_items

    def fit(self, matrix: InteractionMatrix | sp.spmatrix) -> Self:
        """Learn from a users x items matrix of non-negative interaction strengths."""
        if isinstance(matrix, InteractionMatrix):
            self.user_ids, self.item_ids = matrix.user_ids, matrix.item_ids
            matrix = matrix.matrix
        csr = _as_csr(matrix)
        if csr.nnz and csr.data.min() < 0:
            raise ValueError("interaction strengths must be non-negative")
        started = time.perf_counter()
        self.user_items = csr
        self._fit(csr)
        self.fit_seconds = time.perf_counter() - started
        log.info("fitted %r on %d x %d (%d cells) in %.2fs", self, *csr.shape, csr.nnz, self.fit_seconds)
        return self

    def scores(self, user_indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Dense (len(users), n_items) scores of training users."""
        return self.score_history(self._fitted()[np.asarray(user_indices, dtype=np.int64)])

    def recommend(
        self, user_index: int, n: int = 10, exclude: Sequence[int] | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The user's top n item positions and scores, best first, never an item in `exclude`.

        Nothing is excluded by default (pass the user's purchases, or training items when evaluating).
        Fewer than n items come back only if the catalogue minus `exclude` is smaller than n.
        """
        scores = self.scores([user_index]).astype(np.float32)
        if exclude is not None and len(exclude):
            scores[0, np.asarray(exclude, dtype=np.int64)] = -np.inf
        items, values = top_n(scores, n)
        keep = items[0] >= 0
        return items[0][keep], values[0][keep]

    def recommend_all(
        self,
        user_indices: Sequence[int] | np.ndarray | None = None,
        n: int = 10,
        exclude_matrix: sp.spmatrix | None = None,
        batch_size: int = 1024,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top n for many users at once: (len(users), n) item positions and scores, padded with -1/nan.

        `exclude_matrix` is indexed like the training matrix (users x items); its non-zero cells are
        never recommended. Users are scored in batches to bound memory (batch_size x n_items floats per
        thread), on one thread per core: the matrix products and the selection run in NumPy and BLAS,
        which release the GIL (20k users x 100k items on 2 cores: about twice as fast as one thread).
        """
        users = np.arange(self.n_users) if user_indices is None else np.asarray(user_indices, dtype=np.int64)
        exclude = None if exclude_matrix is None else sp.csr_matrix(exclude_matrix)
        if exclude is not None and exclude.shape != self._fitted().shape:
            raise ValueError(f"exclude_matrix shape {exclude.shape} != model shape {self._fitted().shape}")
        all_items = np.full((len(users), n), -1, dtype=np.int64)
        all_scores = np.full((len(users), n), np.nan, dtype=np.float32)
        rank = self._batch_top_n(n, exclude)

        def score_batch(start: int) -> None:
            batch = users[start : start + batch_size]
            all_items[start : start + len(batch)], all_scores[start : start + len(batch)] = rank(batch)

        starts = range(0, len(users), batch_size)
        with ThreadPoolExecutor(max_workers=max(1, min(len(starts), os.cpu_count() or 1))) as pool:
            list(pool.map(score_batch, starts))  # re-raises a batch's error
        return all_items, all_scores

    def _batch_top_n(self, n: int, exclude: sp.csr_matrix | None) -> BatchRanker:
        """For `recommend_all`: a function from a batch of user positions to their top n (items, scores),
        `exclude`'s cells never taken. This one scores every item; a model with a cheaper exact
        selection overrides it (`SVDRecommender`)."""

        def rank(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            scores = np.asarray(self.scores(batch), dtype=np.float32)  # no copy: it is a fresh array
            if exclude is not None:
                rows, cols = exclude[batch].nonzero()
                scores[rows, cols] = -np.inf
            return top_n(scores, n)

        return rank

    def similar_items(self, item_index: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The n items most similar to `item_index` (itself excluded), best first, with scores.

        Empty for an item the model knows nothing about (no interactions): see `content` for those.
        """
        items, scores = self.similar_items_all(n, [item_index])
        keep = items[0] >= 0
        return items[0][keep], scores[0][keep]

    def similar_items_all(
        self, n: int = 10, item_indices: Sequence[int] | np.ndarray | None = None, batch_size: int = 1024
    ) -> tuple[np.ndarray, np.ndarray]:
        """`similar_items` for many items: (len(items), n) positions and scores, padded with -1/nan."""
        self._fitted()
        items = np.arange(self.n_items) if item_indices is None else np.asarray(item_indices, dtype=np.int64)
        all_items = np.full((len(items), n), -1, dtype=np.int64)
        all_scores = np.full((len(items), n), np.nan, dtype=np.float32)
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            sims = np.array(self._item_similarity(batch), dtype=np.float32)
            # an item nobody interacted with has no neighbours (all-zero similarity), not arbitrary ones
            sims[np.arange(len(batch)), batch] = 0.0
            sims[~sims.any(axis=1)] = -np.inf
            sims[np.arange(len(batch)), batch] = -np.inf
            all_items[start : start + len(batch)], all_scores[start : start + len(batch)] = top_n(sims, n)
        return all_items, all_scores

    def explain(self, user_indices: Sequence[int] | np.ndarray, items: np.ndarray) -> np.ndarray:
        """For each (user, recommended item), the other history item that contributed most to its score.

        `items` is (len(users), n) as returned by `recommend_all`; the result has the same shape, -1 where
        there is no such item (padding, no history, or a model such as popularity that has no reasons).
        """
        history = self._fitted()
        users = np.asarray(user_indices, dtype=np.int64)
        items = np.atleast_2d(items)
        because = np.full(items.shape, -1, dtype=np.int64)
        for row, user in enumerate(users):
            start, stop = history.indptr[user], history.indptr[user + 1]
            targets = items[row]
            valid = targets >= 0
            if start == stop or not valid.any():
                continue
            held, weights = history.indices[start:stop], history.data[start:stop]
            block = self._contributions(held, targets[valid])
            if block is None:
                return because
            block = weights[:, None] * block
            block[held[:, None] == targets[valid][None, :]] = 0.0  # an item is not its own reason
            best = block.argmax(axis=0)
            found = block[best, np.arange(block.shape[1])] > 0
            because[row, np.flatnonzero(valid)[found]] = held[best[found]]
        return because

    # -- persistence -----------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the model to directory `path` (model.json + arrays.npz); returns the directory."""
        history = self._fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = dict(self._arrays())
        arrays.update(
            history_data=history.data,
            history_indices=history.indices,
            history_indptr=history.indptr,
            history_shape=np.array(history.shape, dtype=np.int64),
        )
        if self.user_ids is not None:
            arrays["user_ids"] = _storable_ids(self.user_ids)
        if self.item_ids is not None:
            arrays["item_ids"] = _storable_ids(self.item_ids)
        np.savez(path / "arrays.npz", **arrays)
        meta = {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "params": self.params,
            "fit_seconds": self.fit_seconds,
            "metadata": self.metadata,
        }
        (path / "model.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        log.info("saved %r to %s", self, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Recommender:
        """Read a model written by `save`; `SVDRecommender.load` also checks the kind."""
        path = Path(path)
        meta = json.loads((path / "model.json").read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported model format {meta.get('format_version')}")
        model_cls = _REGISTRY.get(meta["kind"])
        if model_cls is None:
            raise ValueError(f"{path}: unknown model kind {meta['kind']!r}")
        if not issubclass(model_cls, cls):
            raise TypeError(f"{path} holds a {model_cls.__name__}, not a {cls.__name__}")
        model = model_cls(**meta["params"])
        with np.load(path / "arrays.npz", allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        model.user_items = sp.csr_matrix(
            (arrays.pop("history_data"), arrays.pop("history_indices"), arrays.pop("history_indptr")),
            shape=tuple(arrays.pop("history_shape")),
        )
        model.user_ids = arrays.pop("user_ids", None)
        model.item_ids = arrays.pop("item_ids", None)
        model.metadata = meta.get("metadata", {})
        model.fit_seconds = meta.get("fit_seconds", 0.0)
        model._restore(arrays)
        return model


def load_model(path: str | Path) -> Recommender:
    """Any saved recommender, whatever its kind."""
    return Recommender.load(path)


class PopularityRecommender(Recommender):
    """Everyone gets the items most users interacted with (`by="users"`) or with most weight (`"weight"`).

    It has no notion of item-to-item similarity: `similar_items` returns the most popular other items.
    """

    kind = "popularity"

    def __init__(self, by: str = "users") -> None:
        super().__init__()
        if by not in ("users", "weight"):
            raise ValueError("by must be 'users' or 'weight'")
        self.by = by
        self.popularity = np.zeros(0, dtype=np.float32)

    @property
    def params(self) -> dict[str, Any]:
        return {"by": self.by}

    def _fit(self, matrix: sp.csr_matrix) -> None:
        if self.by == "users":
            self.popularity = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.float32)
        else:
            self.popularity = np.asarray(matrix.sum(axis=0), dtype=np.float32).ravel()

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        return np.tile(self.popularity, (history.shape[0], 1))

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        return np.tile(self.popularity, (len(items), 1))

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.popularity = arrays["popularity"]


class SVDRecommender(Recommender):
    """PureSVD: scores are the user's history projected on the top `n_factors` item factors.

    With column weights w (w_j = ||column j||^-popularity_damping), the weighted matrix X W is factorised
    as U S V (randomized truncated SVD) and a history row x is scored as (x W) V^T V, i.e. its
    reconstruction: the user factors are x W V^T and the item factors the columns of V. Damping > 0 lets
    less popular items carry more of the factors, < 0 leans on popular ones; 0 is plain PureSVD.
    `user_norm_power` scales each row by ||x_u||^-power for the factorisation only, so heavy users do
    not dominate the factors (scoring a row is unaffected: a user's ranking does not depend on the
    scale of their own row). All of these are tuned per run (`tune`), never fixed.
    Similar items are by cosine of the item factors scaled by the singular values.
    """

    kind = "svd"

    def __init__(
        self,
        n_factors: int = 32,
        popularity_damping: float = 0.0,
        user_norm_power: float = 0.0,
        log_scale: bool = False,
        n_iter: int = 7,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if n_factors < 1:
            raise ValueError("n_factors must be at least 1")
        self.n_factors = n_factors
        self.popularity_damping = popularity_damping
        self.user_norm_power = user_norm_power
        self.log_scale = log_scale  # log1p of the strengths: damps heavy users and repeated events
        self.n_iter = n_iter
        self.seed = seed
        self.components = np.zeros((0, 0), dtype=np.float32)  # V: (k, n_items)
        self.singular_values = np.zeros(0, dtype=np.float32)
        self.column_weights = np.zeros(0, dtype=np.float32)

    @property
    def params(self) -> dict[str, Any]:
        return {
            "n_factors": self.n_factors,
            "popularity_damping": self.popularity_damping,
            "user_norm_power": self.user_norm_power,
            "log_scale": self.log_scale,
            "n_iter": self.n_iter,
            "seed": self.seed,
        }

    @classmethod
    def tune(
        cls,
        train: sp.spmatrix | InteractionMatrix,
        validation: sp.spmatrix,
        ranks: Sequence[int] = (4, 8, 16, 24, 32, 48, 64, 96, 128),
        popularity_dampings: Sequence[float] = (-0.25, 0.0, 0.25),
        user_norm_powers: Sequence[float] = (0.0, 0.5),
        k: int = 10,
        **params: Any,
    ) -> tuple[SVDRecommender, list[dict[str, Any]]]:
        """Pick rank, damping and user normalisation by NDCG@k on `validation`; returns the best model
        (fitted on `train`) and every candidate's validation metrics. See `evaluate.tune_svd`."""
        # evaluate imports this module, so it is imported here rather than at the top
        from models_ml.recommend.evaluate import tune_svd

        return tune_svd(train, validation, ranks, popularity_dampings, user_norm_powers, k=k, **params)

    def _prepare(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        if self.log_scale:
            matrix = matrix.copy()
            np.log1p(matrix.data, out=matrix.data)
        return matrix

    def _fit(self, matrix: sp.csr_matrix) -> None:
        prepared = self._prepare(matrix)
        norms = np.sqrt(np.asarray(prepared.multiply(prepared).sum(axis=0)).ravel())
        weights = np.zeros_like(norms)
        np.power(norms, -self.popularity_damping, out=weights, where=norms > 0)
        self.column_weights = weights.astype(np.float32)
        weighted = prepared @ sp.diags(self.column_weights)
        if self.user_norm_power:
            row_norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
            row_weights = np.zeros_like(row_norms)
            np.power(row_norms, -self.user_norm_power, out=row_weights, where=row_norms > 0)
            weighted = sp.diags(row_weights) @ weighted
        # TruncatedSVD needs fewer components than columns; tiny matrices get what they can hold
        rank = max(1, min(self.n_factors, min(matrix.shape) - 1))
        if rank < self.n_factors:
            log.warning(
                "n_factors %d reduced to %d for a %d x %d matrix", self.n_factors, rank, *matrix.shape
            )
        svd = TruncatedSVD(
            n_components=rank, algorithm="randomized", n_iter=self.n_iter, random_state=self.seed
        )
        svd.fit(weighted)
        self.components = svd.components_.astype(np.float32)
        self.singular_values = svd.singular_values_.astype(np.float32)

    def with_rank(self, n_factors: int) -> SVDRecommender:
        """A copy keeping only the top `n_factors` factors (no refit): cheap rank tuning."""
        if n_factors > len(self.singular_values):
            raise ValueError(f"model has {len(self.singular_values)} factors, asked for {n_factors}")
        model = type(self)(**{**self.params, "n_factors": n_factors})
        model.user_items, model.user_ids, model.item_ids = self.user_items, self.user_ids, self.item_ids
        model.metadata = dict(self.metadata)
        model.fit_seconds = self.fit_seconds
        model.components = self.components[:n_factors]
        model.singular_values = self.singular_values[:n_factors]
        model.column_weights = self.column_weights
        return model

    @property
    def item_factors(self) -> np.ndarray:
        """(n_items, k) item factors V^T."""
        return self.components.T

    def user_factors(self, history: sp.spmatrix | None = None) -> np.ndarray:
        """(rows, k) factors of the given interaction rows (default: the training users): (x W) V^T."""
        history = self._fitted() if history is None else _as_csr(history)
        weighted = self._prepare(history) @ sp.diags(self.column_weights)
        return np.asarray(weighted @ self.components.T, dtype=np.float32)

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        return self.user_factors(history) @ self.components

    def _batch_top_n(self, n: int, exclude: sp.csr_matrix | None) -> BatchRanker:
        """Scores each batch against the items with the largest factor norms first (`head_top_n`), and
        every item only for the users whose top n that does not settle. With popularity in the data the
        largest norms are few: on synthetic interactions with popularity (20k users x 100k items) the
        head of 1/32 of the items settles every user at rank 4 and 83% at rank 64."""
        score_all = super()._batch_top_n(n, exclude)
        n_items = self.n_items
        n_head = min(n_items, max(HEAD_MIN_ITEMS, n_items // HEAD_FRACTION))
        if n_head >= n_items or n >= n_head:
            return score_all
        norms = np.linalg.norm(self.components, axis=0)
        by_norm = np.argsort(-norms, kind="stable")
        head = np.sort(by_norm[:n_head])
        tail_norm = float(norms[by_norm[n_head]])
        head_factors = np.ascontiguousarray(self.components[:, head])
        head_column = np.full(n_items, -1, dtype=np.int64)
        head_column[head] = np.arange(n_head)

        def rank(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            excluded = None
            if exclude is not None:
                rows, cols = exclude[batch].nonzero()
                in_head = head_column[cols] >= 0
                excluded = (rows[in_head], head_column[cols[in_head]])
            factors = self.user_factors(self._fitted()[batch])
            items, values, exact = head_top_n(factors, head_factors, head, tail_norm, n, excluded)
            if not exact.all():
                items[~exact], values[~exact] = score_all(batch[~exact])
            return items, values

        return rank

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        embeddings = self.components.T * self.singular_values
        norms = np.linalg.norm(embeddings, axis=1)
        normalised = embeddings / np.where(norms > 0, norms, 1.0)[:, None]
        return normalised[items] @ normalised.T

    def _contributions(self, history_items: np.ndarray, targets: np.ndarray) -> np.ndarray:
        # score = sum_h x_h w_h (V^T V)[h, i]: weight h's term by w_h here, x_h is applied by explain
        factors = self.components.T
        return (self.column_weights[history_items, None] * factors[history_items]) @ factors[targets].T

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "components": self.components,
            "singular_values": self.singular_values,
            "column_weights": self.column_weights,
        }

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.components = arrays["components"]
        self.singular_values = arrays["singular_values"]
        self.column_weights = arrays["column_weights"]


class ItemKNNRecommender(Recommender):
    """Item-based k-nearest neighbours: s(u, j) = sum over the user's items i of x_ui * sim(i, j).

    sim is the cosine of item columns with shrinkage (x_i . x_j / (|x_i| |x_j| + shrink)), keeping only
    each item's `n_neighbours` most similar items. Computed in column blocks, so memory stays
    n_items x block_size.
    """

    kind = "item_knn"

    def __init__(self, n_neighbours: int = 100, shrink: float = 10.0, block_size: int = 2048) -> None:
        super().__init__()
        self.n_neighbours = n_neighbours
        self.shrink = shrink
        self.block_size = block_size
        self.similarity = sp.csr_matrix((0, 0), dtype=np.float32)  # [i, j]: how much i counts towards j
        self._similarity_t: sp.csr_matrix | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {"n_neighbours": self.n_neighbours, "shrink": self.shrink, "block_size": self.block_size}

    def _fit(self, matrix: sp.csr_matrix) -> None:
        n_items = matrix.shape[1]
        by_item = matrix.T.tocsr()
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel())
        keep = min(self.n_neighbours, max(n_items - 1, 1))
        rows, cols, vals = [], [], []
        for start in range(0, n_items, self.block_size):
            block = np.arange(start, min(start + self.block_size, n_items))
            gram = (by_item @ matrix[:, block]).toarray()  # (n_items, len(block))
            sims = gram / (norms[:, None] * norms[block][None, :] + self.shrink + 1e-12)
            sims[block, np.arange(len(block))] = 0.0
            if keep < n_items:
                top = np.argpartition(-sims, keep - 1, axis=0)[:keep]
            else:
                top = np.broadcast_to(np.arange(n_items)[:, None], (n_items, len(block)))
            values = np.take_along_axis(sims, top, axis=0)
            positive = values > 0
            rows.append(top[positive])
            cols.append(np.broadcast_to(block, top.shape)[positive])
            vals.append(values[positive])
        self.similarity = sp.csr_matrix(
            (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items, n_items),
        )
        self._similarity_t = None

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        return (_as_csr(history) @ self.similarity).toarray()

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        if self._similarity_t is None:
            self._similarity_t = self.similarity.T.tocsr()
        return self._similarity_t[items].toarray()

    def _contributions(self, history_items: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return self.similarity[history_items][:, targets].toarray()

    def _arrays(self) -> dict[str, np.ndarray]:
        s = self.similarity
        return {"sim_data": s.data, "sim_indices": s.indices, "sim_indptr": s.indptr}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        n_items = self.user_items.shape[1]
        self.similarity = sp.csr_matrix(
            (arrays["sim_data"], arrays["sim_indices"], arrays["sim_indptr"]), shape=(n_items, n_items)
        )


class EASERecommender(Recommender):
    """EASE: B = argmin ||X - X B||^2 + l2 ||B||^2 with diag(B) = 0, closed form from (X^T X + l2 I)^-1.

    Scores are x B. Items nobody interacted with have all-zero rows and columns in B, so B is only
    computed over the items with interactions (exactly the same scores; those items score 0). Memory
    and time still grow with n^2 and n^3 for n such items (10-15 s for 8,000 on two cores, float32
    Cholesky), so fitting refuses more than `max_items`.
    """

    kind = "ease"

    def __init__(self, l2: float = 200.0, max_items: int = 20_000) -> None:
        super().__init__()
        self.l2 = l2
        self.max_items = max_items
        self.active = np.zeros(0, dtype=np.int64)  # item positions that have interactions
        self.weights = np.zeros((0, 0), dtype=np.float32)  # B over the active items

    @property
    def params(self) -> dict[str, Any]:
        return {"l2": self.l2, "max_items": self.max_items}

    def _fit(self, matrix: sp.csr_matrix) -> None:
        if self.l2 <= 0:
            raise ValueError("EASE needs l2 > 0")
        self.active = np.flatnonzero(np.bincount(matrix.indices, minlength=matrix.shape[1]))
        n_active = len(self.active)
        if n_active > self.max_items:
            raise ValueError(f"EASE on {n_active} items exceeds max_items={self.max_items}")
        columns = matrix[:, self.active]
        gram = (columns.T @ columns).toarray().astype(np.float32)
        gram[np.diag_indices(n_active)] += self.l2
        # gram is symmetric positive definite (l2 > 0): Cholesky, then solve against the identity (faster
        # here than LU inversion or LAPACK's potri, which is poorly threaded in OpenBLAS)
        factor, info = lapack.spotrf(gram, lower=False, overwrite_a=True)
        if info != 0:
            raise np.linalg.LinAlgError(f"EASE Cholesky factorisation failed (info={info})")
        del gram
        weights, info = lapack.spotrs(
            factor, np.eye(n_active, dtype=np.float32), lower=False, overwrite_b=True
        )
        if info != 0:
            raise np.linalg.LinAlgError(f"EASE solve failed (info={info})")
        del factor
        diagonal = np.diag(weights).copy()
        weights /= -diagonal[None, :]
        weights[np.diag_indices(n_active)] = 0.0
        self.weights = weights

    def _full_columns(self, block: np.ndarray) -> np.ndarray:
        """(rows, n_active) -> (rows, n_items), zeros for items without interactions."""
        full = np.zeros((block.shape[0], self.n_items), dtype=np.float32)
        full[:, self.active] = block
        return full

    def _active_positions(self, items: np.ndarray) -> np.ndarray:
        """Position of each item among the active ones, -1 if it has no interactions."""
        at = np.clip(np.searchsorted(self.active, items), 0, max(len(self.active) - 1, 0))
        return np.where((len(self.active) > 0) & (self.active[at] == items), at, -1)

    def score_history(self, history: sp.csr_matrix) -> np.ndarray:
        return self._full_columns(np.asarray(_as_csr(history)[:, self.active] @ self.weights))

    def _item_similarity(self, items: np.ndarray) -> np.ndarray:
        positions = self._active_positions(np.asarray(items))
        block = np.zeros((len(positions), len(self.active)), dtype=np.float32)
        known = positions >= 0
        block[known] = self.weights[:, positions[known]].T
        return self._full_columns(block)

    def _contributions(self, history_items: np.ndarray, targets: np.ndarray) -> np.ndarray:
        rows, cols = self._active_positions(history_items), self._active_positions(targets)
        block = self.weights[np.ix_(np.maximum(rows, 0), np.maximum(cols, 0))]
        return np.where((rows >= 0)[:, None] & (cols >= 0)[None, :], block, 0.0)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"active": self.active, "weights": self.weights}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.active = arrays["active"]
        self.weights = arrays["weights"]
