"""Scoring a generated CRM with the committed settings finds its duplicates (judged against the truth)."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from models_ml.dedupe import SETTINGS, pairwise_precision_recall, score

# generous floors: the benchmark measures the real figures (README.md); these catch a broken model
MIN_PRECISION, MIN_RECALL = 0.95, 0.90


def test_committed_settings_find_the_true_duplicates(crm) -> None:
    rows = score(crm.records, SETTINGS)
    precision, recall = pairwise_precision_recall(rows, crm.truth)
    assert precision >= MIN_PRECISION
    assert recall >= MIN_RECALL
    # the sample has duplicates to find, and the model merges some but not everything
    true_groups = Counter(crm.truth[r["customer_id"]] for r in crm.records)
    assert any(n > 1 for n in true_groups.values())
    assert len(true_groups) <= len({cluster for _, cluster, _ in rows}) < len(rows)


def test_every_record_once_with_its_clusters_smallest_id(crm) -> None:
    rows = score(crm.records, SETTINGS, num_cores=1)
    assert [customer for customer, _, _ in rows] == sorted(r["customer_id"] for r in crm.records)
    members: dict[int, list[int]] = {}
    for customer, cluster, confidence in rows:
        members.setdefault(cluster, []).append(customer)
        assert 0.0 <= confidence <= 1.0
    assert all(cluster == min(ids) for cluster, ids in members.items())


def test_higher_threshold_merges_less(crm) -> None:
    def merged(threshold: float) -> int:
        rows = score(crm.records, SETTINGS, threshold)
        return len(rows) - len({cluster for _, cluster, _ in rows})

    assert merged(0.95) <= merged(0.7) <= merged(0.3)


def test_pyarrow_table_and_no_matches() -> None:
    table = pa.table({
        "customer_id": [1, 2],
        "first_name": ["Emma", "Oskar"],
        "last_name": ["Smith", "Green"],
        "email": ["emma@example.com", "oskar@example.org"],
    })  # fmt: skip
    assert score(table, SETTINGS) == [(1, 1, 1.0), (2, 2, 1.0)]
    assert score([], SETTINGS) == []
