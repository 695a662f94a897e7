"""Content-based item similarity (TF-IDF over catalogue text), blended with collaborative neighbours.

A collaborative model only knows items people have interacted with, so a product launched today has no
neighbours. Its text does: `content_vectors` turns title, description, tags and category into one TF-IDF
vector per item (a vectorizer per field, weighted, so a long description cannot drown the title), and
`content_neighbours` finds the most similar items by cosine. `blend_similar_items` mixes the two lists per
item, trusting the collaborative one more as the item gathers interactions:

    score(i, j) = a_i * cf(i, j) + (1 - a_i) * content(i, j),   a_i = c_i / (c_i + shrink)

with c_i the item's interaction count, so an item with no interactions gets pure content neighbours.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from models_ml.recommend.models import top_n

log = logging.getLogger(__name__)

# title and tags say most about what an item is; descriptions are long and generic
FIELD_WEIGHTS: dict[str, float] = {"title": 2.0, "description": 1.0, "tags": 1.5, "category": 1.0}
_LIST_SEPARATORS = re.compile(r"\s*[|,;]\s*")


def _split_list(text: str) -> list[str]:
    """Tags and categories are whole tokens ("home & kitchen"), not words."""
    return [token for token in _LIST_SEPARATORS.split(text.lower().strip()) if token]


def _column(table: pa.Table, name: str) -> list[str]:
    if name not in table.column_names:
        return [""] * table.num_rows
    return ["" if value is None else str(value) for value in table[name].to_pylist()]


def content_vectors(
    items: Any, field_weights: Mapping[str, float] = FIELD_WEIGHTS, id_column: str = "item_id"
) -> tuple[np.ndarray, sp.csr_matrix]:
    """(item ids, L2-normalised TF-IDF rows) for a catalogue table with `id_column` and text fields.

    `items` is an Arrow table or pandas frame; missing fields or values count as empty text. `tags` and
    `category` are split on | , ; into whole-phrase tokens, the other fields into words (English stop
    words removed). Each field is weighted by sqrt(weight) so the weights apply to cosine similarity.
    """
    table = items if isinstance(items, pa.Table) else pa.Table.from_pandas(items, preserve_index=False)
    ids = table[id_column].to_numpy(zero_copy_only=False)
    blocks = []
    for field, weight in field_weights.items():
        texts = _column(table, field)
        if weight <= 0 or not any(text.strip() for text in texts):
            continue
        if field in ("tags", "category"):
            vectorizer = TfidfVectorizer(analyzer=_split_list, sublinear_tf=True)
        else:
            vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, strip_accents="unicode")
        try:
            block = vectorizer.fit_transform(texts)
        except ValueError:  # only stop words in this field: it says nothing
            continue
        blocks.append(block * np.sqrt(weight))
    if not blocks:
        return ids, sp.csr_matrix((len(ids), 0), dtype=np.float32)
    vectors = normalize(sp.hstack(blocks).tocsr()).astype(np.float32)
    log.info("content vectors: %d items x %d terms", *vectors.shape)
    return ids, vectors


def content_neighbours(
    vectors: sp.csr_matrix, n: int = 10, batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's n most text-similar items (cosine, itself excluded): (n_items, n) positions and scores.

    Items sharing no term with any other get padding (-1, nan) rather than arbitrary zero-score items.
    """
    vectors = sp.csr_matrix(vectors)
    n_items = vectors.shape[0]
    transposed = vectors.T.tocsc()
    all_items = np.full((n_items, n), -1, dtype=np.int64)
    all_scores = np.full((n_items, n), np.nan, dtype=np.float32)
    for start in range(0, n_items, batch_size):
        batch = np.arange(start, min(start + batch_size, n_items))
        sims = (vectors[batch] @ transposed).toarray()
        sims[np.arange(len(batch)), batch] = -np.inf
        sims[sims <= 0] = -np.inf  # no shared term: not a neighbour
        all_items[batch], all_scores[batch] = top_n(sims, n)
    return all_items, all_scores


def align_neighbours(
    neighbours: np.ndarray, scores: np.ndarray, from_ids: np.ndarray, to_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Re-index neighbour lists computed over `from_ids` (e.g. a model's items) onto `to_ids` (e.g. the
    catalogue). Rows of items missing from `from_ids` and neighbours missing from `to_ids` become -1/nan.
    """
    to_position = {item: i for i, item in enumerate(np.asarray(to_ids).tolist())}
    from_to = np.array([to_position.get(item, -1) for item in np.asarray(from_ids).tolist()], dtype=np.int64)
    n = neighbours.shape[1]
    out_items = np.full((len(to_ids), n), -1, dtype=np.int64)
    out_scores = np.full((len(to_ids), n), np.nan, dtype=np.float32)
    rows = from_to >= 0
    mapped = np.where(neighbours[rows] >= 0, from_to[np.maximum(neighbours[rows], 0)], -1)
    out_items[from_to[rows]] = mapped
    out_scores[from_to[rows]] = np.where(mapped >= 0, scores[rows], np.nan)
    return out_items, out_scores


def blend_similar_items(
    cf_neighbours: tuple[np.ndarray, np.ndarray],
    content_neighbours: tuple[np.ndarray, np.ndarray],
    interaction_counts: np.ndarray,
    n: int = 10,
    shrink: float = 20.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per item, the top n of the collaborative and content lists mixed by the item's interaction count.

    Both inputs are (positions, scores) over the same item index (see `align_neighbours`), padded with
    -1; `interaction_counts[i]` is how many users interacted with item i. The collaborative share is
    c / (c + shrink): 0 for a new item (pure content), about 0.8 at 4 * shrink interactions. Negative
    collaborative similarities are treated as 0. Returns (n_items, n) positions and blended scores in
    [0, 1] for cosine inputs, padded with -1/nan.
    """
    cf_items, cf_scores = cf_neighbours
    content_items, content_scores = content_neighbours
    n_items = len(interaction_counts)
    if cf_items.shape[0] != n_items or content_items.shape[0] != n_items:
        raise ValueError("neighbour lists and interaction_counts must cover the same items")
    counts = np.maximum(np.asarray(interaction_counts, dtype=np.float64), 0.0)
    cf_share = counts / (counts + shrink) if shrink > 0 else (counts > 0).astype(np.float64)

    rows, cols, values = [], [], []
    for items, scores, share in (
        (cf_items, cf_scores, cf_share),
        (content_items, content_scores, 1.0 - cf_share),
    ):
        valid = (items >= 0) & np.isfinite(scores)
        row_index = np.broadcast_to(np.arange(n_items)[:, None], items.shape)
        rows.append(row_index[valid])
        cols.append(items[valid])
        values.append((np.clip(scores, 0.0, None) * share[:, None])[valid])
    # a candidate on both lists adds up its two weighted scores (csr sums duplicate cells)
    blended = sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n_items, n_items)
    )
    blended.sum_duplicates()
    blended.eliminate_zeros()

    out_items = np.full((n_items, n), -1, dtype=np.int64)
    out_scores = np.full((n_items, n), np.nan, dtype=np.float32)
    row_of = np.repeat(np.arange(n_items), np.diff(blended.indptr))
    order = np.lexsort((blended.indices, -blended.data, row_of))  # by row, best first, then by position
    position = np.arange(len(order)) - np.repeat(blended.indptr[:-1], np.diff(blended.indptr))
    keep = position < n
    chosen = order[keep]
    out_items[row_of[chosen], position[keep]] = blended.indices[chosen]
    out_scores[row_of[chosen], position[keep]] = blended.data[chosen]
    return out_items, out_scores
