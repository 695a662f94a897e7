"""Per-stage cost of the nightly pipeline at a given scale: wall time, peak RSS, rows, events/s (issue 8).

    .venv/bin/python benchmarks/stages.py --scale 1m          # or `make bench SCALE=1m`; 5m, 20m, 250k, ...

What it does, all under a scratch directory (`--work-dir`, default /tmp/pwh-bench-<scale>):

1. Waits while the 1-minute load average is above 1.5 (other work shares the cores; up to `--max-wait`).
2. `pwh generate` (through `pwh.generate.generate`, in a child process) for `--days` + 1 days and as many
   people as give about `--scale` events over `--days` days (~10 events per person and day; the CRM and
   the catalog grow with the people). The extra day is the "next night" of the incremental measure.
3. The ceiling: DuckDB's own NDJSON reader loading the same gzip event files of the first `--days` days
   into a table, no checks (what disk, gzip and JSON parsing cost here).
4. Full run: every step of `pwh.pipeline.STEPS` for the last history day, each in its own child process
   (`pwh.pipeline.run_step`, as the Airflow tasks run them), so each stage's peak RSS is its own
   (`os.wait4`: the largest RSS of the child and of its waited-for children, e.g. dbt).
   Steps shorter than 10 s are run `--repeat` times in a row (they are safe to repeat) and the median kept.
5. Incremental: the same steps for the extra day on the warehouse of step 4 (the landing zone holds every
   day; ingestion leaves days after the run date for later runs, so only the new day's files are new).
6. With `--spark` (`make bench-spark`): the classic Spark stack on the same landing files after the full
   run (benchmarks/spark_peer.py: PySpark local mode, aggregations and MLlib ALS), and the ratios.
7. Baseline: the extra day alone on an empty warehouse (a landing zone holding only that day's events and
   logs, plus the same CRM database and catalog). Issue 8's target: incremental <= 1.3 x baseline.

Prints a table per phase and appends one JSON line per stage to `--results` (machine, date, scale,
command, load average). Result files are not committed: the default lives outside the repository.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_DIR))

EVENTS_PER_PERSON_DAY = 10.0  # measured: 2,000 people x 5 days -> 100,950 event lines (bad ones included)
START = dt.date(2026, 1, 1)
SHORT_SECONDS = 10.0
MAX_LOAD = 1.5

# One step in a child process; its return value (shortened) goes to the step log's last line.
STEP_CHILD = """
import datetime as dt, logging, sys
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
from pwh.pipeline import run_step
result = run_step(sys.argv[1], dt.date.fromisoformat(sys.argv[2]), sys.argv[3])
print("RESULT:", repr(result)[:400])
"""

GENERATE_CHILD = """
import dataclasses, datetime as dt, json, sys
from pathlib import Path
from pwh.generate import generate
summary = generate(Path(sys.argv[1]), users=int(sys.argv[2]), days=int(sys.argv[3]), seed=int(sys.argv[4]),
                   start_date=dt.date.fromisoformat(sys.argv[5]))
print("RESULT:", json.dumps(dataclasses.asdict(summary), default=str))
"""

CEILING_CHILD = """
import duckdb, glob, sys
files = sorted(f for day in sys.argv[2:] for f in glob.glob(f"{sys.argv[1]}/{day}/*.jsonl.gz"))
con = duckdb.connect(sys.argv[1] + "/../../ceiling.duckdb")
con.execute("create or replace table events as select * from read_ndjson(?, ignore_errors=true)", [files])
print("RESULT:", con.execute("select count(*) from events").fetchone()[0])
"""

# What a stage produced, read from the build warehouse after it ran (None when the table is not there).
ROWS_QUERIES = {
    "ingest": "select sum(rows_loaded) from audit.load_audit where run_id = $run_id and source = 'events'",
    "check_load_audit": "select count(*) from audit.load_audit where run_id = $run_id",
    "check_raw": "select count(*) from raw_events.events",
    "transform": "select count(*) from intermediate.int_visitor_page_days_aggregated",
    "dedupe": "select count(*) from ml.crm_customer_clusters",
    "identity": "select count(distinct person_id) from ml.identity_map",
    "themes": "select count(*) from ml.page_theme_scores",
    "marts": "select count(*) from marts.user_profiles",
    "segments": "select count(*) from marts.segment_memberships",
}
ROWS_MEANING = {
    "ingest": "events loaded",
    "check_load_audit": "audit rows",
    "check_raw": "raw events",
    "transform": "visitor-page-days",
    "dedupe": "CRM customers",
    "identity": "people",
    "themes": "page scores",
    "marts": "user profiles",
    "segments": "memberships",
}


def parse_scale(text: str) -> int:
    text = text.lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def wait_for_quiet(max_wait: float) -> float:
    """Sleep while the 1-minute load average is above MAX_LOAD, at most max_wait seconds; returns the load."""
    waited = 0.0
    while (load := os.getloadavg()[0]) > MAX_LOAD and waited < max_wait:
        print(f"load average {load:.2f} > {MAX_LOAD}: waiting 60 s", flush=True)
        time.sleep(60)
        waited += 60
    return load


def machine() -> dict:
    import duckdb

    with open("/proc/meminfo") as handle:
        mem_kib = int(handle.readline().split()[1])
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / 1024**2, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }


class ChildFailed(RuntimeError):
    """A child process exited non-zero; the message ends with its log's tail."""


def run_child(code: str, args: list[str], env: dict[str, str], log_path: Path) -> tuple[float, float, str]:
    """Run `python -c code args` with its output in log_path; returns (seconds, peak RSS MiB, RESULT text).

    Raises ChildFailed (with the seconds and RSS as attributes) when the child fails.
    """
    with log_path.open("w") as log:
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", code, *args], env=env, cwd=REPO_DIR, stdout=log, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
        failed = ChildFailed(f"{log_path.stem} failed (exit {child.returncode}); log {log_path}:\n{tail}")
        failed.seconds, failed.peak = seconds, usage.ru_maxrss / 1024
        raise failed
    result = ""
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("RESULT: "):
            result = line.removeprefix("RESULT: ")
    return seconds, usage.ru_maxrss / 1024, result


def child_env(data_dir: Path) -> dict[str, str]:
    from pwh.settings import TELEMETRY_OFF

    env = {**os.environ, **TELEMETRY_OFF, "PWH_DATA_DIR": str(data_dir)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")]))
    for name in ("PWH_CONFIG", "PWH_LANDING_DIR", "PWH_WAREHOUSE_PATH", "PWH_BUILD_DIR", "PWH_LAKE_URL"):
        env.pop(name, None)  # everything under data_dir
    return env


def stage_rows(data_dir: Path, step: str, run_id: str) -> int | None:
    import duckdb

    query = ROWS_QUERIES.get(step)
    build = data_dir / "build" / "pwh.duckdb"
    if query is None or not build.exists():
        return None
    try:
        with duckdb.connect(str(build), read_only=True) as con:
            value = con.execute(
                query.replace("$run_id", "?"), [run_id] if "$run_id" in query else []
            ).fetchone()
        return None if value is None or value[0] is None else int(value[0])
    except duckdb.Error:
        return None


def run_pipeline(
    phase: str, data_dir: Path, run_date: dt.date, repeat: int, record, keep_going: bool
) -> dict[str, dict]:
    """Every step in its own child process; returns {step: measurement}.

    With keep_going, a failed step is recorded (`failed`: its log's tail) and the next steps still run, so
    one broken check does not hide the cost of the rest; `pwh run` itself would stop there.
    """
    from pwh.pipeline import STEPS, new_run_id

    env = child_env(data_dir)
    run_id = new_run_id(run_date)
    logs = data_dir / "bench-logs" / phase
    logs.mkdir(parents=True, exist_ok=True)
    measured: dict[str, dict] = {}
    print(f"\n{phase}: run {run_id} on {data_dir} (step logs in {logs})", flush=True)
    for step in STEPS:
        times, rss, result, failed = [], [], "", None
        for attempt in range(repeat if step.name != "ingest" else 1):  # ingest loads new files only once
            try:
                seconds, peak, result = run_child(
                    STEP_CHILD,
                    [step.name, run_date.isoformat(), run_id],
                    env,
                    logs / f"{step.name}-{attempt}.log",
                )
            except ChildFailed as exc:
                if not keep_going:
                    raise SystemExit(str(exc)) from exc
                print(f"  FAILED {exc}", flush=True)
                seconds, peak, failed = exc.seconds, exc.peak, str(exc)[-1500:]
            times.append(seconds)
            rss.append(peak)
            if seconds >= SHORT_SECONDS or failed:
                break
        rows = stage_rows(data_dir, step.name, run_id)
        row = {
            "phase": phase, "stage": step.name, "run_date": run_date.isoformat(), "run_id": run_id,
            "seconds": round(statistics.median(times), 3), "runs": len(times),
            "all_seconds": [round(t, 3) for t in times], "peak_rss_mib": round(max(rss), 1),
            "rows": rows, "rows_are": ROWS_MEANING.get(step.name), "result": result[:200],
            "load_1m": round(os.getloadavg()[0], 2), "failed": failed,
        }  # fmt: skip
        if step.name == "ingest" and rows:
            row["events_per_s"] = round(rows / row["seconds"])
        measured[step.name] = record(row)
        print(
            f"  {step.name:<17}{row['seconds']:>9.2f} s{row['peak_rss_mib']:>9.0f} MiB"
            f"{'' if rows is None else f'{rows:>12,}'}  (runs: {len(times)}){' FAILED' if failed else ''}",
            flush=True,
        )
    return measured


def table(title: str, measured: dict[str, dict]) -> None:
    print(f"\n{title}")
    print("| stage | wall s | peak RSS MiB | rows | events/s | runs |\n|---|---:|---:|---:|---:|---:|")
    for name, row in measured.items():
        rows = "" if row.get("rows") is None else f"{row['rows']:,} {row['rows_are']}"
        rate = f"{row['events_per_s']:,}" if row.get("events_per_s") else ""
        name = f"{name} (FAILED)" if row.get("failed") else name
        print(
            f"| {name} | {row['seconds']:.2f} | {row['peak_rss_mib']:.0f} | {rows} | {rate} | {row['runs']} |"
        )
    total = sum(row["seconds"] for row in measured.values())
    peak = max(row["peak_rss_mib"] for row in measured.values())
    print(f"| **total** | {total:.1f} | {peak:.0f} | | | |")


def link_tree(source: Path, target: Path, skip_days: set[str]) -> None:
    """Hard-link a landing zone (ingestion only reads it), leaving out the day folders in skip_days."""
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if any(part in skip_days for part in relative.parts):
            continue
        destination = target / relative
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, destination)


def trim_crm(path: Path, day: dt.date) -> None:
    """Delete the customers and orders created from `day` on (and their items) from a CRM database."""
    import sqlite3

    with sqlite3.connect(path) as con:
        con.execute("delete from order_items where order_id in (select order_id from orders where ordered_at >= ?)",
                    [day.isoformat()])  # fmt: skip
        con.execute("delete from orders where ordered_at >= ?", [day.isoformat()])
        con.execute("delete from customers where created_at >= ?", [day.isoformat()])
        con.execute("update customers set updated_at = created_at where updated_at >= ?", [day.isoformat()])
        con.execute("update orders set updated_at = ordered_at where updated_at >= ?", [day.isoformat()])
    with sqlite3.connect(path) as con:
        con.execute("vacuum")


# pwh's steps that do what the Spark peer's stages do (pwh's do more: see spark_peer.py)
SPARK_COUNTERPARTS = {"ingest": ("read",), "transform": ("daily", "lifetime"), "train": ("als",)}


def compare_spark(full: dict[str, dict], landing: Path, until: dt.date, data_dir: Path, record) -> None:
    """Run benchmarks/spark_peer.py on the full run's landing files; print and record the ratios."""
    code = "import runpy; runpy.run_path('benchmarks/spark_peer.py', run_name='__main__')"
    seconds, peak, result = run_child(
        code, ["--landing", str(landing), "--until", until.isoformat(), "--out", str(data_dir / "spark-peer")],
        child_env(data_dir), data_dir / "bench-logs" / "spark-peer.log",
    )  # fmt: skip
    spark = json.loads(result)
    print("\n| pwh step | pwh s | Spark stage(s) | Spark s | Spark / pwh |\n|---|---:|---|---:|---:|")
    rows = [(step, full[step]["seconds"], stages, sum(spark[s] for s in stages))
            for step, stages in SPARK_COUNTERPARTS.items()]  # fmt: skip
    # end to end: every pwh step (gates, identity, segments, ... included) against Spark's whole job
    rows.append(
        (
            "all steps",
            sum(row["seconds"] for row in full.values()),
            ("all, JVM start included",),
            spark["total"],
        )
    )
    for step, pwh_s, stages, spark_s in rows:
        print(f"| {step} | {pwh_s:.1f} | {' + '.join(stages)} | {spark_s:.1f} | {spark_s / pwh_s:.2f} |")
        record({"phase": "spark_peer", "stage": f"ratio_{step.replace(' ', '_')}", "pwh_seconds": round(pwh_s, 2),
                "spark_seconds": round(spark_s, 2), "spark_over_pwh": round(spark_s / pwh_s, 2)})  # fmt: skip
    print(f"Spark: {seconds:.1f} s wall in all, JVM peak RSS {spark['jvm_peak_rss_mib']:.0f} MiB "
          f"(the Python driver: {peak:.0f} MiB); goal: Spark / pwh >= 5 end to end")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", default="1m", help="events over --days days: 1m, 5m, 20m, 250k, ...")
    parser.add_argument("--days", type=int, default=30, help="days of history before the incremental day")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each stage shorter than 10 s (median)")
    parser.add_argument("--work-dir", type=Path, help="scratch directory (default /tmp/pwh-bench-<scale>)")
    parser.add_argument("--results", type=Path, default=Path("/tmp/pwh-bench-results.jsonl"))
    parser.add_argument("--max-wait", type=float, default=600, help="seconds to wait for a quiet machine")
    parser.add_argument("--no-incremental", action="store_true", help="full run only")
    parser.add_argument("--spark", action="store_true", help="also time the Spark peer (spark_peer.py)")
    parser.add_argument(
        "--stop-on-failure", action="store_true", help="stop at a failed step, as `pwh run` does"
    )
    args = parser.parse_args()

    events_target = parse_scale(args.scale)
    users = max(100, round(events_target / (EVENTS_PER_PERSON_DAY * args.days)))
    work = args.work_dir or Path(f"/tmp/pwh-bench-{args.scale}")
    if work.exists():
        shutil.rmtree(work)
    full_dir, base_dir = work / "full", work / "baseline"
    landing = full_dir / "landing"
    last_history_day = START + dt.timedelta(days=args.days - 1)
    new_day = last_history_day + dt.timedelta(days=1)
    history_days = [(START + dt.timedelta(days=d)).isoformat() for d in range(args.days)]

    load_before = wait_for_quiet(args.max_wait)
    common = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "scale": args.scale,
        "users": users, "days": args.days, "seed": args.seed,
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": machine(),
        "load_1m_at_start": round(load_before, 2),
    }  # fmt: skip
    args.results.parent.mkdir(parents=True, exist_ok=True)

    def record(row: dict) -> dict:
        with args.results.open("a") as handle:
            handle.write(json.dumps({**common, **row}) + "\n")
        return row

    print(f"{common['date']} scale {args.scale}: {users:,} people x {args.days}+1 days; {common['machine']}")
    print(f"load average {load_before:.2f}; results appended to {args.results}", flush=True)
    (full_dir / "bench-logs").mkdir(parents=True)

    # Generator: all days (history + the incremental day) in one go, then its rate on everything it wrote.
    seconds, peak, result = run_child(
        GENERATE_CHILD,
        [str(landing), str(users), str(args.days + 1), str(args.seed), START.isoformat()],
        child_env(full_dir), full_dir / "bench-logs" / "generate.log",
    )  # fmt: skip
    summary = json.loads(result)
    lines = summary["events"] + summary["bad_rows"]["events"]
    generated = record({
        "phase": "generate", "stage": "generate", "seconds": round(seconds, 3), "peak_rss_mib": round(peak, 1),
        "rows": lines, "rows_are": "event lines", "events_per_s": round(lines / seconds), "summary": summary,
        "load_1m": round(os.getloadavg()[0], 2),
    })  # fmt: skip
    print(
        f"generate: {lines:,} event lines, {summary['log_lines']:,} log lines, {summary['customers']:,} "
        f"customers, {summary['products']:,} products in {seconds:.1f} s ({generated['events_per_s']:,}/s), "
        f"{peak:.0f} MiB",
        flush=True,
    )

    # Ceiling: DuckDB loading the history days' event files straight, no checks.
    seconds, peak, result = run_child(
        CEILING_CHILD, [str(landing / "events"), *history_days], child_env(full_dir),
        full_dir / "bench-logs" / "ceiling.log",
    )  # fmt: skip
    ceiling = record({
        "phase": "full", "stage": "duckdb_read_ndjson_ceiling", "seconds": round(seconds, 3),
        "peak_rss_mib": round(peak, 1), "rows": int(result), "rows_are": "events read",
        "events_per_s": round(int(result) / seconds), "load_1m": round(os.getloadavg()[0], 2),
    })  # fmt: skip
    (full_dir / "ceiling.duckdb").unlink(missing_ok=True)
    print(
        f"ceiling: {int(result):,} events in {seconds:.1f} s ({ceiling['events_per_s']:,}/s), {peak:.0f} MiB"
    )

    # The CRM as of the end of the history: the generated database also holds the extra day's customers
    # and orders; the loader takes rows up to a day after the run date, and a customer created after it
    # fails check_marts (person_features.days_since_first_seen = -1; see docs/benchmarks.md).
    crm, crm_all = landing / "crm.sqlite", work / "crm-all-days.sqlite"
    shutil.copy2(crm, crm_all)
    trim_crm(crm, new_day)
    full = run_pipeline("full", full_dir, last_history_day, args.repeat, record, not args.stop_on_failure)
    table(f"Full run, {args.days} days to {last_history_day} ({users:,} people)", full)
    ingest = full["ingest"]
    ratio = ingest["seconds"] / ceiling["seconds"]
    print(
        f"\ngenerator {generated['events_per_s']:,} event lines/s; ingest (all four sources) "
        f"{ingest.get('events_per_s', 0):,} events/s; ceiling {ceiling['events_per_s']:,} events/s; "
        f"ingest / ceiling = {ratio:.1f}x"
    )
    record({"phase": "full", "stage": "summary", "ingest_over_ceiling": round(ratio, 2),
            "total_seconds": round(sum(r["seconds"] for r in full.values()), 1)})  # fmt: skip
    if args.spark:
        compare_spark(full, landing, last_history_day, full_dir, record)
    if args.no_incremental:
        return

    shutil.copy2(crm_all, crm)  # the CRM a day later
    incremental = run_pipeline("incremental", full_dir, new_day, 1, record, not args.stop_on_failure)
    link_tree(landing, base_dir / "landing", set(history_days))
    baseline = run_pipeline("baseline", base_dir, new_day, 1, record, not args.stop_on_failure)
    table(f"Incremental: {new_day} on {args.days} days of history", incremental)
    table(f"Baseline: {new_day} alone on an empty warehouse", baseline)
    inc_total = sum(r["seconds"] for r in incremental.values())
    base_total = sum(r["seconds"] for r in baseline.values())
    print("\n| stage | incremental s | empty warehouse s | ratio |\n|---|---:|---:|---:|")
    for name in incremental:
        a, b = incremental[name]["seconds"], baseline[name]["seconds"]
        print(f"| {name} | {a:.2f} | {b:.2f} | {a / b if b else float('nan'):.2f} |")
    print(f"| **total** | {inc_total:.1f} | {base_total:.1f} | {inc_total / base_total:.2f} |")
    record({"phase": "incremental", "stage": "summary", "incremental_seconds": round(inc_total, 1),
            "baseline_seconds": round(base_total, 1), "ratio": round(inc_total / base_total, 2)})  # fmt: skip
    print(f"\nincremental / same day on an empty warehouse = {inc_total / base_total:.2f}x (target <= 1.3x)")


if __name__ == "__main__":
    main()
