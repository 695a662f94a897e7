"""Top-10 recommendation quality on public data: MovieLens ml-latest-small (610 users, 9,724 movies).

    .venv/bin/python benchmarks/movielens.py [--data-dir DIR] [--min-rating 0] [--seed 42] [--no-ease]
        [--protocol random|time|both] [--direct | --compare-direct] [--work-dir DIR]

Data: `<data-dir>/ml-latest-small/ratings.csv`; the data dir is `--data-dir`, else $PWH_BENCHMARKS_DIR, else
`../shared/benchmarks` next to the repository. Every rating >= `--min-rating` (default 0: all ratings)
counts as one implicit interaction, weight 1, no time decay: the benchmark compares models, not the
warehouse's event weights.

How the ratings reach the models (details in benchmarks/movielens_events.py):
- default, through pwh: each rating is written as one pwh analytics event (`product_view`, the rating in
  `properties.rating`) to a temporary landing zone, gzip JSON lines under `events/YYYY-MM-DD/`; pwh's own
  ingestion (`pwh.pipeline.ingest`, events source) loads them into a temporary warehouse, failing if any
  rating is quarantined or lost; the interaction table is read back from `raw_events.events`. It must
  equal the one read straight from ratings.csv, and so must every split matrix built from it, so the
  figures are those of `--direct` (`--compare-direct` also runs the models on the CSV path and checks
  every metric; it doubles the model time). `--work-dir` keeps the landing zone and warehouse there.
- `--direct`: ratings.csv read straight into the interaction table, no pwh in between.

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
import tempfile
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

from benchmarks.movielens_events import (  # noqa: E402
    FILE_NAME,
    ingest_events,
    read_interactions,
    same_interactions,
    temporary_pwh,
    write_events,
)
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
WEIGHTS = {"product_view": 1.0}  # every rating: one implicit positive
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
    """ratings.csv as an interaction table (user_id, item_id, event_type='product_view', occurred_at)."""
    ratings = pacsv.read_csv(path)
    ratings = ratings.filter(pc.greater_equal(ratings["rating"], min_rating))
    seconds = ratings["timestamp"].cast(pa.int64()).to_numpy()
    return pa.table(
        {
            "user_id": ratings["userId"],
            "item_id": ratings["movieId"],
            "event_type": pa.array(np.full(ratings.num_rows, "product_view")),
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


def load_through_pwh(path: Path, min_rating: float, work_dir: Path) -> pa.Table:
    """ratings.csv -> pwh events in a landing zone -> pwh ingestion -> interaction table from the warehouse."""
    started = time.perf_counter()
    landing_dir = work_dir / "landing"
    landing = write_events(path, landing_dir)
    written = time.perf_counter()
    print(
        f"wrote {landing.events:,} product_view events to {landing.files:,} files "
        f"{landing_dir}/events/{{{landing.first_day}..{landing.last_day}}}/{FILE_NAME} "
        f"({written - started:.1f} s)"
    )
    with temporary_pwh(work_dir) as settings:
        _, audit_line = ingest_events(settings, landing)
        ingested = time.perf_counter()
        print(f"{audit_line} ({ingested - written:.1f} s)")
        table = read_interactions(settings, min_rating, landing.events)
    print(
        f"read {table.num_rows:,} interactions back from raw_events.events in {settings.warehouse_path} "
        f"({time.perf_counter() - ingested:.1f} s)"
    )
    return table


def same_matrices(left: dict[str, Any], right: dict[str, Any]) -> bool:
    """The train / test / fit / validation matrices of two protocols are identical, cell for cell."""
    for name in ("train", "test", "fit", "validation"):
        a, b = sp.csr_matrix(left[name]), sp.csr_matrix(right[name])
        if a.shape != b.shape or (a != b).nnz:
            return False
    return left.get("note") == right.get("note")


METRICS = ("precision@10", "recall@10", "ndcg@10", "map@10", "coverage@10")


def compare_figures(rows: list[dict[str, Any]], direct: list[dict[str, Any]], tolerance: float = 1e-6) -> str:
    """One line: whether every model's metrics equal the --direct path's (raises when they do not)."""
    if [(r["model"], r["params"], r["users"]) for r in rows] != [
        (r["model"], r["params"], r["users"]) for r in direct
    ]:
        raise SystemExit(f"models, tuned parameters or test users differ from --direct:\n{rows}\n{direct}")
    largest = max(abs(a[m] - b[m]) for a, b in zip(rows, direct, strict=True) for m in METRICS)
    if not largest <= tolerance:
        raise SystemExit(f"figures differ from --direct by up to {largest:.2e}")
    return (
        f"figures equal the --direct path's: {len(rows)} models x {len(METRICS)} metrics, same tuned "
        f"parameters, largest difference {largest:.1e}"
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
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--direct", action="store_true", help="read ratings.csv straight, not through pwh")
    source.add_argument(
        "--compare-direct",
        action="store_true",
        help="through pwh, and also run the models on the direct path and check every metric is the same",
    )
    parser.add_argument("--work-dir", type=Path, help="keep the landing zone and warehouse here (new folder)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    path = data_dir(args.data_dir) / "ml-latest-small" / "ratings.csv"
    if not path.exists():
        sys.exit(f"{path} not found: pass --data-dir or set PWH_BENCHMARKS_DIR")
    started = time.perf_counter()
    direct = load_ratings(path, args.min_rating)
    if args.direct:
        table, reference, route = direct, None, "ratings.csv read directly (--direct)"
    else:
        route = "pwh events -> pwh ingestion -> raw_events.events"
        if args.work_dir:
            if args.work_dir.exists() and any(args.work_dir.iterdir()):
                sys.exit(f"--work-dir {args.work_dir} is not empty")
            table = load_through_pwh(path, args.min_rating, args.work_dir.resolve())
        else:
            with tempfile.TemporaryDirectory(prefix="pwh-movielens-") as tmp:
                table = load_through_pwh(path, args.min_rating, Path(tmp))
        if not same_interactions(table, direct):
            sys.exit("the interactions read back from the warehouse differ from ratings.csv")
        print("the warehouse's interactions equal ratings.csv's row for row (user, movie, type, timestamp)")
        reference = direct
    users = len(pc.unique(table["user_id"]))
    items = len(pc.unique(table["item_id"]))
    positives = "all ratings" if args.min_rating <= 0 else f"ratings >= {args.min_rating:g}"
    print(
        f"\nMovieLens ml-latest-small via {route}: {table.num_rows:,} interactions ({positives}), "
        f"{users} users, {items:,} items"
    )
    print(f"top-{K}, training items excluded, seed {args.seed}; tuning on a validation split inside training")

    protocols = []
    if args.protocol in ("random", "both"):
        protocols.append(("random", lambda t: random_protocol(t, args.seed)))
    if args.protocol in ("time", "both"):
        protocols.append(("time", time_protocol))
    for name, make in protocols:
        protocol = make(table)
        rows = run(protocol, not args.no_ease, args.seed)
        if name == "random":
            title = f"Per-user random 75/25 split ({rows[0]['users']} test users)"
        else:
            title = f"Global time split, {protocol['note']} ({rows[0]['users']} test users)"
        print_table(title, rows)
        if reference is None:
            continue
        if not same_matrices(protocol, make(reference)):
            sys.exit(f"{name} protocol: split matrices differ from the --direct path's")
        if args.compare_direct:
            print(compare_figures(rows, run(make(reference), not args.no_ease, args.seed)))
        else:
            print(
                "train/test/fit/validation matrices identical to the --direct path's, cell for cell: "
                "same figures (--compare-direct reruns the models to check)"
            )

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
