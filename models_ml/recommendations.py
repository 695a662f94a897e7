"""The nightly recommender step: warehouse interactions -> recommender -> published recommendation tables.

Reads interactions (events + orders) and the catalogue from the warehouse, trains and evaluates the SVD
recommender against the popularity baseline on a time split ending at the run's logical date, and:
- always records the run in `marts.model_runs` (version, data window, metrics, published or not, why);
- only when the model beats the baseline, replaces `marts.user_recommendations`, `marts.similar_items`
  and `marts.popular_items` in one transaction. A model that fails the gate leaves the previous
  recommendations in place.

`person_id` is the identity map's (`ml.identity_map`); every person of `marts.user_profiles` gets
recommendations: with no history, the popular items of their strongest interest theme (`top_theme`,
from the pages they read), else the overall popular items.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pwh.settings import Settings
from pwh.warehouse import connect, replace_table, transaction

log = logging.getLogger(__name__)

# marts.user_recommendations (ARCHITECTURE.md); expectations/suites/marts_recommendations.py checks them
RECOMMENDATION_COLUMNS = ("person_id", "product_id", "rank", "score", "model_version", "reason")

TOP_N = 10
SIMILAR_N = 10

MODEL_RUNS_DDL = """
create schema if not exists marts;
create table if not exists marts.model_runs (
    model_version varchar not null primary key,
    run_id varchar not null,
    run_date date not null,
    data_from timestamptz,
    test_from timestamptz,
    as_of timestamptz not null,
    interactions bigint not null,
    svd_precision_at_10 double,
    svd_recall_at_10 double,
    svd_ndcg_at_10 double,
    svd_map_at_10 double,
    svd_coverage double,
    popularity_precision_at_10 double,
    popularity_recall_at_10 double,
    popularity_ndcg_at_10 double,
    popularity_map_at_10 double,
    popularity_coverage double,
    params varchar,
    is_published boolean not null,
    reason varchar not null,
    seconds double
)
"""


@dataclass(frozen=True)
class TrainSummary:
    model_version: str
    is_published: bool
    reason: str
    recommendations: int


def _read(settings: Settings, as_of: dt.datetime) -> tuple[pa.Table, pa.Table, dict[str, str | None]]:
    """Interactions before `as_of` (never later data, even when the warehouse has it), catalogue, and
    every person with their strongest interest theme (None without one)."""
    from models_ml.recommend.interactions import WAREHOUSE_INTERACTIONS_SQL

    with connect(settings.warehouse_path, read_only=True) as con:
        interactions = (
            con.execute(
                f"select * from ({WAREHOUSE_INTERACTIONS_SQL}) as interactions where occurred_at < ?",
                [as_of.replace(tzinfo=None)],  # warehouse timestamps are naive UTC
            )
            .arrow()
            .read_all()
        )
        products = (
            con.execute(
                "select product_id as item_id, title, description, category, tags from staging.stg_catalog__products"
            )
            .arrow()
            .read_all()
        )
        people = dict(
            con.execute("select person_id, top_theme from marts.user_profiles order by 1").fetchall()
        )
    return interactions, products, people


def _metric(metrics: dict, model: str, name: str) -> float | None:
    value = metrics.get(model, {}).get(f"{name}@{TOP_N}")
    return None if value is None or np.isnan(value) else float(value)


def train(settings: Settings, run_date: dt.date, run_id: str) -> TrainSummary:
    """Train, evaluate and (if it passes the gate) publish recommendations for the logical date."""
    from models_ml.recommend import (
        align_neighbours,
        blend_similar_items,
        build_interactions,
        content_neighbours,
        content_vectors,
        popular_items,
        similar_items_table,
        train_and_evaluate,
        user_recommendations,
    )

    as_of = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time.min, dt.UTC)  # end of the day
    version = f"svd-{run_id}"
    interactions, products, people = _read(settings, as_of)
    metrics: dict = {}
    if interactions.num_rows == 0:
        passed, reason, seconds = False, "no interactions up to the run date", 0.0
    else:
        result = train_and_evaluate(interactions, as_of=as_of)
        passed, reason, metrics = result.passed_gate, result.reason, result.metrics
        seconds = float(metrics.get("seconds", 0.0))

    tables: dict[str, pa.Table] = {}
    if passed:
        model = result.model
        history = build_interactions(interactions, as_of, user_ids=model.user_ids, item_ids=model.item_ids)
        bought = build_interactions(
            interactions.filter(pc.equal(interactions["event_type"], "purchase")),
            as_of,
            weights={"purchase": 1.0},
            half_life_days=None,
            user_ids=model.user_ids,
            item_ids=model.item_ids,
        )
        popular = popular_items(interactions, as_of, item_categories=dict(
            zip(products["item_id"].to_pylist(), products["category"].to_pylist(), strict=True)),
            user_themes=people)  # fmt: skip
        overall = popular.filter(pc.equal(popular["list_name"], "overall"))
        by_theme: dict[str, tuple[list, list]] = {}
        for row in popular.filter(pc.equal(popular["list_name"], "theme")).to_pylist():  # in rank order
            listed = by_theme.setdefault(row["theme"], ([], []))
            listed[0].append(row["item_id"])
            listed[1].append(row["score"])
        known = set(np.asarray(model.user_ids).astype(str).tolist())
        recommendations = user_recommendations(
            model,
            n=TOP_N,
            exclude=bought.matrix,
            model_version=version,
            history=history,
            item_names=dict(zip(products["item_id"].to_pylist(), products["title"].to_pylist(), strict=True)),
            popular=(overall["item_id"].to_pylist(), overall["score"].to_pylist()),
            cold_user_ids=[person for person in people if person not in known],
            user_themes=people,
            popular_by_theme=by_theme,
        )
        catalogue_ids, vectors = content_vectors(products)
        cf = align_neighbours(*model.similar_items_all(SIMILAR_N), np.asarray(model.item_ids), catalogue_ids)
        counts = np.zeros(len(catalogue_ids))
        positions = {item: i for i, item in enumerate(catalogue_ids.tolist())}
        per_item = np.diff(model.user_items.tocsc().indptr)
        for item, count in zip(np.asarray(model.item_ids).tolist(), per_item.tolist(), strict=True):
            if item in positions:
                counts[positions[item]] = count
        neighbours, scores = blend_similar_items(
            cf, content_neighbours(vectors, SIMILAR_N), counts, SIMILAR_N
        )
        tables = {
            "user_recommendations": recommendations.rename_columns(list(RECOMMENDATION_COLUMNS)),
            "similar_items": similar_items_table(catalogue_ids, neighbours, scores, version).rename_columns(
                ["product_id", "similar_product_id", "rank", "score", "model_version"]
            ),
            "popular_items": popular.rename_columns(
                ["list_name", "category", "theme", "product_id", "score", "rank"]
            ).append_column("model_version", pa.array([version] * popular.num_rows, pa.string())),
        }
    _publish(
        settings, run_date, run_id, version, interactions.num_rows, metrics, passed, reason, seconds, tables
    )
    rows = tables["user_recommendations"].num_rows if tables else 0
    log.info("model %s %s: %s", version, "published" if passed else "NOT published", reason)
    return TrainSummary(version, passed, reason, rows)


def _publish(settings, run_date, run_id, version, n_interactions, metrics, passed, reason, seconds, tables):
    """Record the run and, when it passed, swap in the new tables: all in one transaction."""
    windows = metrics.get("windows", {})
    row = [
        version, run_id, run_date, windows.get("first_event"), windows.get("test_from"),
        windows.get("as_of") or dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time.min, dt.UTC),
        n_interactions,
        *(_metric(metrics, "svd", name) for name in ("precision", "recall", "ndcg", "map", "coverage")),
        *(_metric(metrics, "popularity", name) for name in ("precision", "recall", "ndcg", "map", "coverage")),
        json.dumps(metrics.get("params", {})), passed, reason, seconds,
    ]  # fmt: skip
    with connect(settings.warehouse_path) as con, transaction(con):
        con.execute(MODEL_RUNS_DDL)
        con.execute("delete from marts.model_runs where model_version = ?", [version])
        con.execute(f"insert into marts.model_runs values ({', '.join('?' for _ in row)})", row)
        for name, table in tables.items():
            replace_table(con, f"marts.{name}", table)
