"""Scoring with a learned settings file, and the pairwise metrics used to judge the clusters."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dedupe
import numpy as np

from models_ml.dedupe.features import Records, preprocess

__all__ = ["DEFAULT_THRESHOLD", "pairwise_precision_recall", "score"]

log = logging.getLogger(__name__)

# chosen on generated data with benchmarks/dedupe_crm.py (see README.md)
DEFAULT_THRESHOLD = 0.7
# pairs scored below this are dropped before clustering (see _partition)
EDGE_FLOOR = 0.1


def score(
    records: Records,
    settings_path: Path,
    threshold: float = DEFAULT_THRESHOLD,
    num_cores: int | None = None,
) -> list[tuple[Any, Any, float]]:
    """(customer_id, cluster_id, confidence) for every record; cluster_id is the cluster's smallest id.

    Records that match nothing are clusters of one with confidence 1.0. threshold (0-1): higher merges
    less. num_cores: scoring processes (None: every CPU; 0 or 1: in this process). Like
    StaticDedupe.partition, with less memory on big data (see _partition).
    """
    started = time.perf_counter()
    data = preprocess(records)
    if not data:
        return []
    with open(settings_path, "rb") as f:
        deduper = dedupe.StaticDedupe(f, num_cores=num_cores)
    clusters = _partition(deduper, data, threshold)
    rows = []
    clustered: set = set()
    for ids, confidences in clusters:
        cluster_id = min(ids)
        rows.extend((i, cluster_id, float(c)) for i, c in zip(ids, confidences, strict=True))
        clustered.update(ids)
    rows.extend((i, i, 1.0) for i in data if i not in clustered)
    rows.sort(key=lambda row: row[0])
    log.info(
        "%d records in %d clusters (%.1f s)",
        len(rows),
        len({c for _, c, _ in rows}),
        time.perf_counter() - started,
    )
    return rows


def _partition(deduper: dedupe.StaticDedupe, data: dict, threshold: float) -> list[tuple]:
    """StaticDedupe.partition without its singletons, and without the pairs it is sure are different.

    partition() clusters every pair the blocking rules produce, and a loose rule (same street, same
    birthday) chains tens of thousands of records into one connected component whose distance matrix
    costs gigabytes (2.9 GB at 100k records). Pairs scored below EDGE_FLOOR barely move the centroid
    linkage at the usual thresholds; dropping them first leaves components of a few dozen records.
    """
    try:
        scores = deduper.score(deduper.pairs(data))
    except dedupe.core.BlockingError:  # no two records share a blocking key: nothing to merge
        return []
    try:
        kept = np.array(scores[scores["score"] >= min(EDGE_FLOOR, threshold / 2)])  # in memory, not mapped
    finally:
        _remove_memmap(scores)
    return list(deduper.cluster(kept, threshold)) if len(kept) else []


def _remove_memmap(scores: np.ndarray) -> None:
    """dedupe's scores live in a temp file that partition() would delete; so do it here."""
    path = getattr(scores, "filename", None)
    if path:
        scores._mmap.close()
        os.remove(path)


def pairwise_precision_recall(
    clusters: Mapping[Any, Any] | Iterable[tuple], truth: Mapping[Any, Any]
) -> tuple[float, float]:
    """Precision and recall (each 0-1) of the record pairs put together, against the true pairs.

    clusters: record id -> cluster id, or rows whose first two items are (record id, cluster id), such as
    score()'s output. truth: record id -> entity id. Only records present in both count. A predicted pair
    is right when both records belong to the same entity; recall is the share of true pairs predicted.
    With no pairs to judge the value is 1.0.
    """
    assigned = clusters if isinstance(clusters, Mapping) else {row[0]: row[1] for row in clusters}
    ids = [i for i in assigned if i in truth]
    predicted = _pairs(Counter(assigned[i] for i in ids))
    actual = _pairs(Counter(truth[i] for i in ids))
    correct = _pairs(Counter((assigned[i], truth[i]) for i in ids))
    precision = correct / predicted if predicted else 1.0
    recall = correct / actual if actual else 1.0
    return precision, recall


def _pairs(group_sizes: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in group_sizes.values())
