"""Generator and ingestion throughput on generated data, beside DuckDB reading the same files straight.

    .venv/bin/python benchmarks/ingest.py --users 10000 --days 10 --repeat 3

Prints one JSON line per measurement and a summary table with medians. The "ceiling" is DuckDB's own
NDJSON reader loading the same gzip files into a table with no checks: what the disk, gzip and JSON
parsing cost on this machine, so the ingest figure can be read as a ratio to it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pwh.settings import load_settings, quiet_telemetry  # noqa: E402


class timed:
    """`with timed(results, "name"):` appends the block's wall time to results["name"]."""

    def __init__(self, results: dict[str, list[float]], name: str) -> None:
        self.results, self.name = results, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc) -> None:
        self.results.setdefault(self.name, []).append(time.perf_counter() - self.started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    quiet_telemetry()

    import duckdb

    from pwh.generate import generate
    from pwh.pipeline import ingest

    results: dict[str, list[float]] = {}
    events = 0
    for attempt in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["PWH_DATA_DIR"] = str(Path(tmp) / "data")
            settings = load_settings()
            with timed(results, "generate"):
                summary = generate(settings.landing_dir, users=args.users, days=args.days, seed=attempt)
            events = summary.events + summary.bad_rows["events"]

            files = sorted(str(path) for path in (settings.landing_dir / "events").rglob("*.jsonl.gz"))
            with duckdb.connect() as con, timed(results, "duckdb_read_json_ceiling"):
                con.execute(
                    "create table events as select * from read_json(?, format='newline_delimited', "
                    "ignore_errors=true)",
                    [files],
                )

            run_date = dt.date(2026, 1, 1) + dt.timedelta(days=args.days - 1)
            for source in ("events", "logs", "crm", "catalog"):
                with timed(results, f"ingest_{source}"):
                    ingest(settings, run_date, f"bench-{attempt}", (source,))
            for name, values in results.items():
                print(json.dumps({"measure": name, "attempt": attempt, "seconds": round(values[-1], 3),
                                  "events": events, "users": args.users, "days": args.days}))  # fmt: skip

    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"\n{events:,} event lines; medians of {args.repeat} run(s); peak RSS {peak_gib:.2f} GiB")
    print(f"{'measure':<28}{'seconds':>10}{'events/s':>14}")
    for name, values in results.items():
        median = statistics.median(values)
        rate = (
            f"{events / median:,.0f}"
            if name in ("generate", "ingest_events", "duckdb_read_json_ceiling")
            else ""
        )
        print(f"{name:<28}{median:>10.2f}{rate:>14}")
    ratio = statistics.median(results["ingest_events"]) / statistics.median(
        results["duckdb_read_json_ceiling"]
    )
    print(f"ingest_events / ceiling: {ratio:.1f}x")


if __name__ == "__main__":
    main()
