"""The recommender at web scale: pwh's SVD on 1M users x 100k items with 50M interactions (issue 5/8).

    .venv/bin/python benchmarks/svd_scale.py [--users 1000000] [--items 100000] [--interactions 50000000]
        [--factors 64 128] [--score-users 50000] [--seed 0]
    .venv/bin/python benchmarks/svd_scale.py --nightly     # the nightly train step's whole model work

The interactions are synthetic, drawn straight into a sparse matrix (the warehouse path is measured by
`make bench`): item popularity follows a Zipf-like law (p ~ 1 / rank^0.9) and user activity a lognormal,
scaled so the total is `--interactions` draws; repeated (user, item) draws add up, as repeated events do
in `build_interactions`. Then, per rank in `--factors`, the same model class the nightly `train` step
fits (`models_ml.recommend.SVDRecommender`, randomized truncated SVD, 7 power iterations) is fitted on
the whole matrix, and `recommend_all` scores `--score-users` users (top 10, their own items excluded);
the time for every user is extrapolated from them, and says so.

Printed per phase: wall seconds, peak RSS of the process so far (MiB). One JSON line per run is
appended to /tmp/pwh-bench-results.jsonl, like benchmarks/stages.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models_ml.recommend.models import SVDRecommender  # noqa: E402

RESULTS = Path("/tmp/pwh-bench-results.jsonl")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def synthetic_matrix(users: int, items: int, interactions: int, seed: int) -> sp.csr_matrix:
    """users x items float32 counts of `interactions` draws (Zipf-like items, lognormal users)."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, items + 1) ** 0.9
    popularity /= popularity.sum()
    activity = rng.lognormal(mean=0.0, sigma=1.0, size=users)
    per_user = np.floor(activity / activity.sum() * interactions).astype(np.int64)
    per_user[: interactions - per_user.sum()] += 1  # exactly `interactions` draws
    rows = np.repeat(np.arange(users, dtype=np.int32), per_user)
    columns = rng.choice(items, size=interactions, p=popularity).astype(np.int32)
    rng.shuffle(columns)  # popular items are not all one user's
    data = np.ones(interactions, dtype=np.float32)
    matrix = sp.csr_matrix((data, (rows, columns)), shape=(users, items), dtype=np.float32)
    matrix.sum_duplicates()
    return matrix


def split_cells(matrix: sp.csr_matrix, seed: int) -> tuple[sp.csr_matrix, ...]:
    """The cells split at random 80/10/10: (tuning train, validation, train, test). Synthetic counts
    have no time, so the nightly step's time split becomes a random one of the same proportions."""
    coo = matrix.tocoo()
    share = np.random.default_rng(seed).random(coo.nnz)

    def cells(mask: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=matrix.shape)

    return cells(share < 0.8), cells((share >= 0.8) & (share < 0.9)), cells(share < 0.9), cells(share >= 0.9)


def nightly(matrix: sp.csr_matrix, seed: int, phase) -> None:
    """The model work of the nightly `train` step (`train_and_evaluate`, then the scoring in
    `models_ml.recommendations`) at this scale, with their defaults: tune the grid on a validation split
    (candidates fitted on a sample of users), fit the tuned SVD and the popularity baseline, evaluate
    both on a sample of the test users (the gate), refit on everything, and score every user."""
    from models_ml.recommend.evaluate import gate, tune_svd
    from models_ml.recommend.models import PopularityRecommender

    started = time.perf_counter()
    tuning_train, validation, train, test = split_cells(matrix, seed)
    phase("split 80/10/10", started)
    started = time.perf_counter()
    tuned, table = tune_svd(tuning_train, validation, seed=seed)
    params = {key: tuned.params[key] for key in ("n_factors", "popularity_damping", "user_norm_power")}
    phase(
        "tune: the default grid (6 fits at the largest rank, sampled users)",
        started,
        candidates=len(table),
        **params,
    )
    started = time.perf_counter()
    svd = SVDRecommender(**params, seed=seed).fit(train)
    passed, reason, scores = gate(svd, PopularityRecommender().fit(train), train, test)
    phase(
        "fit + gate",
        started,
        passed=passed,
        reason=reason,
        users=scores["model"]["users"],
        test_users=scores["model"]["test_users"],
    )
    started = time.perf_counter()
    model = SVDRecommender(**params, seed=seed).fit(matrix)
    phase("refit on all", started)
    started = time.perf_counter()
    items, _ = model.recommend_all(n=10, exclude_matrix=matrix)
    phase("top 10 for every user", started, filled=float((items >= 0).mean()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--interactions", type=int, default=50_000_000)
    parser.add_argument("--factors", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--score-users", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--nightly", action="store_true", help="time the nightly train step's whole model work instead"
    )
    args = parser.parse_args()

    result: dict = {
        "benchmark": "svd_scale", "date": dt.date.today().isoformat(), "machine": platform.node(),
        "cpus": os.cpu_count(), "command": " ".join(sys.argv), "users": args.users, "items": args.items,
        "interactions": args.interactions, "phases": [],
    }  # fmt: skip

    def phase(name: str, started: float, **extra) -> None:
        row = {
            "phase": name,
            "seconds": round(time.perf_counter() - started, 1),
            "peak_rss_mib": round(peak_mib()),
            **extra,
        }
        result["phases"].append(row)
        print(json.dumps(row), flush=True)

    started = started_all = time.perf_counter()
    matrix = synthetic_matrix(args.users, args.items, args.interactions, args.seed)
    phase("build matrix", started, cells=int(matrix.nnz))

    if args.nightly:
        nightly(matrix, args.seed, phase)
        phase("nightly model work", started_all)
    for factors in [] if args.nightly else args.factors:
        started = time.perf_counter()
        model = SVDRecommender(n_factors=factors, seed=args.seed).fit(matrix)
        phase(f"fit rank {factors}", started)

        rng = np.random.default_rng(args.seed)
        users = np.sort(rng.choice(args.users, size=min(args.score_users, args.users), replace=False))
        started = time.perf_counter()
        items, _ = model.recommend_all(users, n=10, exclude_matrix=matrix)
        seconds = time.perf_counter() - started
        phase(
            f"top 10 for {len(users):,} users, rank {factors}", started,
            all_users_seconds_extrapolated=round(seconds * args.users / len(users)),
            filled=float((items >= 0).mean()),
        )  # fmt: skip
    with RESULTS.open("a") as handle:
        handle.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
