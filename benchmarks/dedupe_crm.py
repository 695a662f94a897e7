"""CRM deduplication quality, time and memory with the committed dedupe settings, on generated data.

    .venv/bin/python benchmarks/dedupe_crm.py --users 14300     # ~10k CRM records
    .venv/bin/python benchmarks/dedupe_crm.py --users 143000    # ~100k CRM records

Generates a landing zone into a temp dir (a seed the committed model was not trained on), scores its
CRM customers with models_ml/dedupe/training/crm.settings, and prints records, clusters, pairwise
precision and recall against the generator's truth, scoring seconds and peak RSS. Targets: precision
>= 0.98, recall >= 0.95; at 100k records under 300 s and 4 GiB.

--noise F adds damage the generator does not make, to see how the model copes with messier data: each
record independently loses one key field with probability F and gets a mistyped postcode digit with
probability F.

Generation and scoring run in separate child processes, so the RSS figures are scoring's alone: the
scoring process itself, and its largest worker (dedupe forks workers that share the parent's pages, so
the sum of the two overstates the real peak).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

KEY_FIELDS = ("postcode", "phone", "email", "street_address", "birth_date")


def add_noise(records: list[dict], share: float, seed: int) -> list[dict]:
    """Copies of records with a key field blanked and a postcode character mistyped, each with p=share."""
    rng = random.Random(seed)
    noisy = []
    for record in records:
        record = dict(record)
        if rng.random() < share:
            record[rng.choice(KEY_FIELDS)] = None
        postcode = record["postcode"]
        if rng.random() < share and postcode:
            digits = [i for i, ch in enumerate(postcode) if ch.isdigit()]
            if digits:
                i = rng.choice(digits)
                record["postcode"] = postcode[:i] + str((int(postcode[i]) + 1) % 10) + postcode[i + 1 :]
        noisy.append(record)
    return noisy


def _generate(landing: str, users: int, seed: int) -> None:
    from pwh.generate import generate

    generate(Path(landing), users=users, days=1, seed=seed)


def _score(landing: str, settings: str, threshold: float, noise: float, seed: int, conn) -> None:
    # a spawned child inherits "spawn", which would make each of dedupe's scoring workers re-import
    # everything (seconds each); the nightly run forks them, like a normal Linux process
    multiprocessing.set_start_method("fork", force=True)
    from models_ml.dedupe import pairwise_precision_recall, read_crm, read_truth, score

    records = read_crm(Path(landing) / "crm.sqlite")
    if noise:
        records = add_noise(records, noise, seed)
    started = time.perf_counter()
    rows = score(records, Path(settings), threshold)
    seconds = time.perf_counter() - started
    precision, recall = pairwise_precision_recall(rows, read_truth(Path(landing)))
    conn.send({
        "records": len(records),
        "clusters": len({cluster for _, cluster, _ in rows}),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "largest_worker_rss_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    })  # fmt: skip


def main() -> None:
    from models_ml.dedupe import DEFAULT_THRESHOLD, SETTINGS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--users", type=int, default=14300, help="people to generate (~0.77 CRM records each)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--noise", type=float, default=0.0, help="extra damage per record, 0-1")
    parser.add_argument("--settings", type=Path, default=SETTINGS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        landing = str(Path(tmp) / "landing")
        started = time.perf_counter()
        generator = ctx.Process(target=_generate, args=(landing, args.users, args.seed))
        generator.start()
        generator.join()
        if generator.exitcode != 0:
            sys.exit(f"generate failed (exit code {generator.exitcode})")
        generate_s = time.perf_counter() - started

        receive, send = ctx.Pipe(duplex=False)
        scorer = ctx.Process(
            target=_score, args=(landing, str(args.settings), args.threshold, args.noise, args.seed, send)
        )
        scorer.start()
        send.close()  # so recv() fails instead of waiting forever if the scorer dies
        try:
            result = receive.recv()
        except EOFError:
            result = None
        scorer.join()
        if result is None:
            sys.exit(f"scoring failed (exit code {scorer.exitcode})")

    result = {"users": args.users, "seed": args.seed, "threshold": args.threshold, "noise": args.noise,
              **result, "generate_seconds": round(generate_s, 1)}  # fmt: skip
    print(json.dumps(result))
    print(
        f"{result['records']:,} records -> {result['clusters']:,} clusters | precision {result['precision']:.4f}"
        f" recall {result['recall']:.4f} | scoring {result['seconds']:.1f} s | peak RSS"
        f" {result['peak_rss_mib']:,} MiB (largest worker {result['largest_worker_rss_mib']:,} MiB)"
    )


if __name__ == "__main__":
    main()
