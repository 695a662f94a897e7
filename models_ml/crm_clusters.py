"""The nightly dedupe step: CRM customers in the warehouse -> `ml.crm_customer_clusters`.

Scores the cleaned customers (`staging.stg_crm__customers`) with the committed dedupe settings
(StaticDedupe, no training in the nightly run) and replaces the table in one transaction: one row per
customer with the cluster it belongs to (the smallest customer_id of the cluster) and dedupe's
confidence. Identity stitching builds people on these clusters.

`evaluate` compares the clusters with a generated landing zone's truth (`_truth/customers.parquet`):
pairwise precision and recall, printed by `pwh dedupe evaluate` and kept in `ml.dedupe_evaluations`.
The nightly run itself never reads the truth.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from pwh.settings import Settings
from pwh.warehouse import connect, replace_table, transaction

log = logging.getLogger(__name__)

CUSTOMERS_SQL = "select * from staging.stg_crm__customers order by customer_id"


@dataclass(frozen=True)
class ClusterSummary:
    customers: int
    clusters: int
    merged_customers: int  # customers that share their cluster with at least one other


def customers(settings: Settings) -> pa.Table:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(CUSTOMERS_SQL).arrow().read_all()


def cluster_customers(
    settings: Settings, run_date: dt.date, run_id: str, settings_path: Path | None = None
) -> ClusterSummary:
    """Score every CRM customer and publish `ml.crm_customer_clusters` for this run."""
    from models_ml.dedupe import SETTINGS, score

    rows = score(customers(settings), settings_path or SETTINGS, num_cores=1)
    table = pa.table(
        {
            "customer_id": pa.array([row[0] for row in rows], pa.int64()),
            "cluster_id": pa.array([row[1] for row in rows], pa.int64()),
            "confidence": pa.array([row[2] for row in rows], pa.float64()),
            "run_id": pa.array([run_id] * len(rows), pa.string()),
        }
    )
    with connect(settings.warehouse_path) as con, transaction(con):
        replace_table(con, "ml.crm_customer_clusters", table)
    sizes: dict[int, int] = {}
    for _, cluster, _ in rows:
        sizes[cluster] = sizes.get(cluster, 0) + 1
    merged = sum(size for size in sizes.values() if size > 1)
    log.info("dedupe: %d customers in %d clusters (%d in shared clusters)", len(rows), len(sizes), merged)
    return ClusterSummary(len(rows), len(sizes), merged)


def evaluate(settings: Settings, run_id: str) -> tuple[float, float, int]:
    """Pairwise precision and recall of the published clusters against the landing zone's truth."""
    from models_ml.dedupe import pairwise_precision_recall, read_truth

    truth = read_truth(settings.landing_dir)
    with connect(settings.warehouse_path) as con:
        clusters = dict(
            con.execute("select customer_id, cluster_id from ml.crm_customer_clusters").fetchall()
        )
        precision, recall = pairwise_precision_recall(clusters, truth)
        con.execute(
            """
            create table if not exists ml.dedupe_evaluations (
                run_id varchar, evaluated_customers bigint, pairwise_precision double, pairwise_recall double
            )
            """
        )
        evaluated = sum(1 for customer in clusters if customer in truth)
        con.execute(
            "insert into ml.dedupe_evaluations values (?, ?, ?, ?)", [run_id, evaluated, precision, recall]
        )
    return precision, recall, evaluated
