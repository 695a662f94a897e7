"""Top-10 recommendation quality on public data: MovieLens ml-latest-small (610 users, 9,724 movies).

    .venv/bin/python benchmarks/movielens.py [--data-dir DIR] [--min-rating 0] [--seed 42] [--no-ease]

Data: `<data-dir>/ml-latest-small/ratings.csv`; the data dir is `--data-dir`, else $PWH_BENCHMARKS_DIR, else
`../shared/benchmarks` next to the repository. Every rating >= `--min-rating` (default 0: all ratings)
counts as one implicit interaction, weight 1, no time decay: the benchmark compares models, not the
warehouse's event weights.

Protocols (both seeded, training items never recommended, metrics averaged over users with test items):
- random: per user, a random 25% of their interactions is the test set (75/25, users with >= 2).
- time: one global cutoff at the 80th percentile of timestamps; train before it, test after it, on
  users and movies seen in training, movies the user already had in training left out.
Hyperparameters are chosen inside the training data only: SVD rank, popularity damping and user
normalisation, item-kNN neighbours and EASE's l2, by NDCG@10 on a validation split carved from the training part the same way
(a random 80/20 split of it, or a time cut at its own 80th percentile), then refitted on all of it.

Reference figures (NDCG@10) are for MovieLens-100k, a different but similar set (943 users, 1,682
movies, denser), per-user random 75/25, from STACK.md; expect lower absolute numbers here (a sparser
catalogue six times larger), the same ordering.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import scipy.sparse as sp
from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models_ml.recommend.evaluate import evaluate, tune_svd  # noqa: E402
from models_ml.recommend.interactions import build_interactions, per_user_random_split, time_split  # noqa: E402
from models_ml.recommend.models import (  # noqa: E402
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    Recommender,
)

REPO = Path(__file__).resolve().parents[1]
K = 10
SVD_RANKS = (8, 16, 24, 32, 48, 64, 96, 128)
SVD_DAMPINGS = (-0.25, 0.0, 0.25, 0.5)
SVD_USER_NORMS = (0.0, 0.5, 1.0)
KNN_NEIGHBOURS = (25, 50, 100, 200)
EASE_L2 = (100.0, 500.0)
WEIGHTS = {"rating": 1.0}
REFERENCE_ML100K = [
    ("popularity", 0.245, "STACK.md (measured)"),
    ("item-kNN", 0.433, "STACK.md (measured)"),
    ("iALS", 0.431, "STACK.md (measured)"),
    ("PureSVD", 0.448, "STACK.md (measured)"),
    ("EASE", 0.473, "STACK.md (measured)"),
    ("SAR", 0.382, "Microsoft Recommenders benchmark"),
    ("BPR", 0.442, "Microsoft Recommenders benchmark"),
    ("BiVAE", 0.475, "Microsoft Recommenders benchmark"),
]


def data_dir(argument: str | None) -> Path:
    if argument:
        return Path(argument)
    if os.environ.get("PWH_BENCHMARKS_DIR"):
        return Path(os.environ["PWH_BENCHMARKS_DIR"])
    return REPO.parent / "shared" / "benchmarks"


def load_ratings(path: Path, min_rating: float) -> pa.Table:
    """ratings.csv as an interaction table (user_id, item_id, event_type='rating', occurred_at)."""
    ratings = pacsv.read_csv(path)
    ratings = ratings.filter(pc.greater_equal(ratings["rating"], min_rating))
    seconds = ratings["timestamp"].cast(pa.int64()).to_numpy()
    return pa.table(
        {
            "user_id": ratings["userId"],
            "item_id": ratings["movieId"],
            "event_type": pa.array(np.full(ratings.num_rows, "rating")),
            "occurred_at": pa.array(seconds * 1_000_000, type=pa.timestamp("us", tz="UTC")),
        }
    )


def utc_quantile(table: pa.Table, q: float) -> dt.datetime:
    micros = table["occurred_at"].cast(pa.int64()).to_numpy()
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(np.quantile(micros, q)))


def random_protocol(table: pa.Table, seed: int) -> dict[str, Any]:
    matrix = build_interactions(table, weights=WEIGHTS, half_life_days=None).matrix
    train, test = per_user_random_split(matrix, 0.25, seed=seed)
    fit, validation = per_user_random_split(train, 0.20, seed=seed + 1)
    return {"train": train, "test": test, "fit": fit, "validation": validation}


def time_protocol(table: pa.Table) -> dict[str, Any]:
    cutoff = utc_quantile(table, 0.8)
    split = time_split(table, cutoff, weights=WEIGHTS, half_life_days=None)
    before = table.filter(pc.less(table["occurred_at"], pa.scalar(cutoff, type=pa.timestamp("us", tz="UTC"))))
    inner_cutoff = utc_quantile(before, 0.8)
    inner = time_split(
        before, inner_cutoff, cutoff - dt.timedelta(microseconds=1), weights=WEIGHTS, half_life_days=None
    )
    return {
        "train": split.train.matrix,
        "test": split.test,
        "fit": inner.train.matrix,
        "validation": inner.test,
        "note": f"cutoff {cutoff:%Y-%m-%d}, validation cutoff {inner_cutoff:%Y-%m-%d}",
    }


def tune(make, grid: dict[str, tuple], fit: sp.csr_matrix, validation: sp.csr_matrix) -> dict[str, Any]:
    """The grid point (one parameter) with the best validation NDCG@10."""
    (name, values), = grid.items()  # fmt: skip
    scores = {
        value: evaluate(make(**{name: value}).fit(fit), fit, validation, K)[f"ndcg@{K}"] for value in values
    }
    return {name: max(scores, key=lambda value: np.nan_to_num(scores[value], nan=-1.0))}


def run(protocol: dict[str, Any], ease: bool, seed: int) -> list[dict[str, Any]]:
    train, test, fit, validation = (
        protocol["train"],
        protocol["test"],
        protocol["fit"],
        protocol["validation"],
    )
    rows = []

    def measure(label: str, model: Recommender, params: str, tune_seconds: float) -> None:
        started = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - started
        scores = evaluate(model, train, test, K)
        rows.append(
            {"model": label, "params": params, **scores, "fit_s": fit_seconds, "tune_s": tune_seconds}
        )

    measure("popularity", PopularityRecommender(), "", 0.0)

    # SVD and kNN work on tall, thin matrices, where OpenBLAS threads cost more than they give on a
    # small, shared machine (QR of 9,724 x 138: 0.05 s on one thread, 0.1-0.7 s on two); EASE's big
    # Cholesky is where threads pay, so only it runs with all of them
    single_thread = threadpool_limits(limits=1, user_api="blas")

    started = time.perf_counter()
    best, _ = tune_svd(fit, validation, SVD_RANKS, SVD_DAMPINGS, SVD_USER_NORMS, k=K, seed=seed)
    svd_tune = time.perf_counter() - started
    svd = type(best)(**best.params)
    params = f"rank {best.n_factors}, damp {best.popularity_damping:+g}, unorm {best.user_norm_power:g}"
    measure("svd (tuned)", svd, params, svd_tune)

    started = time.perf_counter()
    knn = tune(
        lambda **p: ItemKNNRecommender(shrink=0.0, **p), {"n_neighbours": KNN_NEIGHBOURS}, fit, validation
    )
    measure(
        "item-kNN (tuned)",
        ItemKNNRecommender(shrink=0.0, **knn),
        f"k {knn['n_neighbours']}",
        time.perf_counter() - started,
    )

    single_thread.restore_original_limits()
    if ease:
        started = time.perf_counter()
        best_l2 = tune(lambda **p: EASERecommender(**p), {"l2": EASE_L2}, fit, validation)
        measure(
            "EASE (tuned)", EASERecommender(**best_l2), f"l2 {best_l2['l2']:g}", time.perf_counter() - started
        )
    return rows


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    header = f"{'model':<18}{'params':<32}{'P@10':>8}{'R@10':>8}{'NDCG@10':>9}{'MAP@10':>8}{'cov@10':>8}{'fit s':>8}{'tune s':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['model']:<18}{row['params']:<32}{row['precision@10']:>8.4f}{row['recall@10']:>8.4f}"
            f"{row['ndcg@10']:>9.4f}{row['map@10']:>8.4f}{row['coverage@10']:>8.4f}{row['fit_s']:>8.2f}"
            f"{row['tune_s']:>8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", help="folder holding ml-latest-small/ (default: $PWH_BENCHMARKS_DIR)")
    parser.add_argument("--min-rating", type=float, default=0.0, help="ratings >= this are positives")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-ease", action="store_true", help="skip EASE (it inverts items x items: ~100 s)")
    parser.add_argument("--protocol", choices=("random", "time", "both"), default="both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    path = data_dir(args.data_dir) / "ml-latest-small" / "ratings.csv"
    if not path.exists():
        sys.exit(f"{path} not found: pass --data-dir or set PWH_BENCHMARKS_DIR")
    started = time.perf_counter()
    table = load_ratings(path, args.min_rating)
    users = len(pc.unique(table["user_id"]))
    items = len(pc.unique(table["item_id"]))
    positives = "all ratings" if args.min_rating <= 0 else f"ratings >= {args.min_rating:g}"
    print(
        f"MovieLens ml-latest-small: {table.num_rows:,} interactions ({positives}), {users} users, {items:,} items"
    )
    print(f"top-{K}, training items excluded, seed {args.seed}; tuning on a validation split inside training")

    if args.protocol in ("random", "both"):
        protocol = random_protocol(table, args.seed)
        rows = run(protocol, not args.no_ease, args.seed)
        print_table(f"Per-user random 75/25 split ({rows[0]['users']} test users)", rows)
    if args.protocol in ("time", "both"):
        protocol = time_protocol(table)
        rows = run(protocol, not args.no_ease, args.seed)
        print_table(f"Global time split, {protocol['note']} ({rows[0]['users']} test users)", rows)

    print("\nReference NDCG@10 on MovieLens-100k (a different, denser set), per-user random 75/25:")
    print("  " + ", ".join(f"{name} {value:.3f}" for name, value, _ in REFERENCE_ML100K[:5]) + " (STACK.md)")
    print(
        "  "
        + ", ".join(f"{name} {value:.3f}" for name, value, _ in REFERENCE_ML100K[5:])
        + " (Microsoft Recommenders)"
    )
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
