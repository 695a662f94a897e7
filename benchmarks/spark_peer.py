"""The classic Spark stack on pwh's generated data: the peer that issue 8 times pwh against.

    make bench-spark SCALE=1m     # benchmarks/stages.py --spark: pwh's full run, then this on the same files
    .venv/bin/python benchmarks/spark_peer.py --landing /tmp/pwh-bench-1m/full/landing --until 2026-01-30

What platforms of this kind run nightly, in PySpark local mode (`local[*]`: both cores, one JVM whose heap
is `--driver-memory`), reading the same gzip JSON-lines event files pwh ingests:

1. read: the event files (days up to `--until`) with the event schema given (no inference pass);
   malformed lines and rows without event_id, event_type, occurred_at or anonymous_id dropped, event_id
   de-duplicated; written as Parquet (the lake).
2. daily: visitor-page-days (page and product views per day, visitor and page path; pwh's
   int_visitor_page_days_aggregated) and visitor-days (events, sessions, purchases, revenue per day,
   visitor and channel); written as Parquet.
3. lifetime: per visitor, first and last seen, days active, events, sessions, purchases, revenue.
4. ALS (Spark MLlib, implicit feedback) on the product interactions of each visitor, weighted by event
   type as pwh weights them (models_ml.recommend.DEFAULT_EVENT_WEIGHTS) with the same 30-day half-life
   from the latest event; rank `--rank`, `--iterations` iterations; top 10 for every visitor as Parquet.

The Spark side does less than pwh's steps it is compared with (no quarantine with reasons, no load audit,
no dbt tests, no offline evaluation or tuning of the model), so the comparison flatters Spark. Spark's
usual settings for a small cluster are used: adaptive query execution on, 8 shuffle partitions (the
default 200 costs seconds of scheduling here), the UI off.

Prints one line per stage and appends one JSON line per stage to `--results`; the last line printed is
`RESULT: {...}` (seconds per stage, JVM peak RSS), which stages.py reads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STAGES = ("read", "daily", "lifetime", "als")
EVENT_SCHEMA = """
    event_id string, event_type string, occurred_at string, anonymous_id string, user_id string,
    email string, session_id string, channel string,
    device struct<type: string, os: string, browser: string>,
    page struct<url: string, title: string, referrer: string>,
    product struct<product_id: string, price: double, currency: string, quantity: bigint>,
    order_id string, _corrupt_record string
"""


def event_files(landing: Path, until: dt.date) -> list[str]:
    days = sorted(
        path
        for path in (landing / "events").iterdir()
        if path.is_dir() and dt.date.fromisoformat(path.name) <= until
    )
    return [str(file) for day in days for file in sorted(day.glob("*.jsonl.gz"))]


def jvm_peak_rss_mib(spark) -> float:
    """The JVM's peak resident memory (VmHWM), read before it stops."""
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(
    landing: Path, until: dt.date, out: Path, rank: int, iterations: int, driver_memory: str
) -> dict[str, float]:
    from pyspark.ml.feature import StringIndexer
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from models_ml.recommend import DEFAULT_EVENT_WEIGHTS
    from models_ml.recommend.interactions import DEFAULT_HALF_LIFE_DAYS

    files = event_files(landing, until)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    spark = (
        SparkSession.builder.master("local[*]")
        .appName("pwh-spark-peer")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    seconds["start"] = time.perf_counter() - started
    print(f"spark {spark.version} started in {seconds['start']:.1f} s; {len(files)} event files", flush=True)

    def timed(stage: str, action) -> None:
        began = time.perf_counter()
        rows = action()
        seconds[stage] = time.perf_counter() - began
        print(f"  {stage:<10}{seconds[stage]:>9.2f} s{rows:>14,} rows", flush=True)

    def save(frame, name: str) -> int:
        """Write `frame` as Parquet under `out/name`; the rows written, read back."""
        frame.write.mode("overwrite").parquet(str(out / name))
        return spark.read.parquet(str(out / name)).count()

    # 1. read, validate the essentials, de-duplicate, write the lake
    def read() -> int:
        raw = spark.read.schema(EVENT_SCHEMA).option("mode", "PERMISSIVE").json(files)
        events = (
            raw.where(F.col("_corrupt_record").isNull())
            .withColumn("occurred_at", F.try_to_timestamp("occurred_at"))  # ANSI mode: null, not an error
            .where(
                F.col("event_id").isNotNull()
                & F.col("event_type").isNotNull()
                & F.col("occurred_at").isNotNull()
                & F.col("anonymous_id").isNotNull()
            )
            .dropDuplicates(["event_id"])
            .drop("_corrupt_record")
        )
        return save(events, "events")

    timed("read", read)
    events = spark.read.parquet(str(out / "events")).withColumn("event_date", F.to_date("occurred_at"))
    revenue = F.when(
        F.col("event_type") == "purchase",
        F.col("product.price") * F.coalesce(F.col("product.quantity"), F.lit(1)),
    ).otherwise(0.0)

    # 2. daily aggregates
    def daily() -> int:
        page_days = (
            events.where(F.col("event_type").isin("page_view", "product_view"))
            .withColumn("page_path", F.regexp_extract("page.url", r"^[a-z]+://[^/]+(/[^?#]*)", 1))
            .where(F.col("page_path") != "")
            .groupBy("event_date", "anonymous_id", "user_id", "email", "page_path")
            .agg(F.count("*").alias("views"))
        )

        visitor_days = events.groupBy("event_date", "anonymous_id", "channel").agg(
            F.max("user_id").alias("user_id"),
            F.count("*").alias("events"),
            F.countDistinct(F.coalesce("session_id", "event_id")).alias("sessions"),
            F.sum((F.col("event_type") == "page_view").cast("int")).alias("page_views"),
            F.countDistinct(
                F.when(F.col("event_type") == "purchase", F.coalesce("order_id", "event_id"))
            ).alias("purchases"),
            F.sum(revenue).alias("revenue"),
            F.min("occurred_at").alias("first_seen_at"),
            F.max("occurred_at").alias("last_seen_at"),
        )
        save(visitor_days, "visitor_days")
        return save(page_days, "visitor_page_days")

    timed("daily", daily)

    # 3. lifetime aggregates from the daily ones
    def lifetime() -> int:
        visitor_days = spark.read.parquet(str(out / "visitor_days"))
        visitors = visitor_days.groupBy("anonymous_id").agg(
            F.max("user_id").alias("user_id"),
            F.min("first_seen_at").alias("first_seen_at"),
            F.max("last_seen_at").alias("last_seen_at"),
            F.countDistinct("event_date").alias("days_active"),
            F.sum("events").alias("events"),
            F.sum("sessions").alias("sessions"),
            F.sum("purchases").alias("purchases"),
            F.sum("revenue").alias("revenue"),
        )
        return save(visitors, "visitor_lifetime")

    timed("lifetime", lifetime)

    # 4. ALS on weighted, time-decayed product interactions; top 10 for every visitor
    def als() -> int:
        weights = F.create_map(*[F.lit(x) for pair in DEFAULT_EVENT_WEIGHTS.items() for x in pair])
        latest = events.agg(F.max("occurred_at")).first()[0]
        age_days = (F.lit(latest).cast("long") - F.col("occurred_at").cast("long")) / 86400.0
        interactions = (
            events.where(F.col("product.product_id").isNotNull() & weights[F.col("event_type")].isNotNull())
            .withColumn("visitor", F.coalesce("user_id", "anonymous_id"))
            .withColumn(
                "weight", weights[F.col("event_type")] * F.pow(F.lit(0.5), age_days / DEFAULT_HALF_LIFE_DAYS)
            )
            .groupBy("visitor", F.col("product.product_id").alias("product_id"))
            .agg(F.sum("weight").alias("weight"))
            .where(F.col("weight") > 0)  # a cart emptied again is no preference
        )
        indexed = (
            StringIndexer(inputCol="visitor", outputCol="user").fit(interactions).transform(interactions)
        )
        indexed = StringIndexer(inputCol="product_id", outputCol="item").fit(indexed).transform(indexed)
        indexed = indexed.select(
            F.col("user").cast("int"), F.col("item").cast("int"), F.col("weight").cast("float")
        ).cache()
        model = ALS(
            rank=rank, maxIter=iterations, implicitPrefs=True, userCol="user", itemCol="item",
            ratingCol="weight", coldStartStrategy="drop", seed=42,
        ).fit(indexed)  # fmt: skip
        return save(model.recommendForAllUsers(10), "recommendations")

    timed("als", als)
    seconds["total"] = time.perf_counter() - started
    seconds["jvm_peak_rss_mib"] = jvm_peak_rss_mib(spark)
    spark.stop()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--landing", type=Path, required=True, help="a landing zone `pwh generate` wrote")
    parser.add_argument("--until", type=dt.date.fromisoformat, required=True, help="last day to read")
    parser.add_argument("--out", type=Path, help="output folder (default: <landing>/../spark-peer)")
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--results", type=Path, default=Path("/tmp/pwh-bench-results.jsonl"))
    args = parser.parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode: nothing listens beyond loopback
    out = args.out or args.landing.parent / "spark-peer"
    seconds = run(args.landing, args.until, out, args.rank, args.iterations, args.driver_memory)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with args.results.open("a") as handle:
        for stage, value in seconds.items():
            row = {"date": stamp, "phase": "spark_peer", "stage": stage, "value": round(value, 3),
                   "landing": str(args.landing), "until": args.until.isoformat(), "rank": args.rank,
                   "iterations": args.iterations, "load_1m": round(os.getloadavg()[0], 2)}  # fmt: skip
            handle.write(json.dumps(row) + "\n")
    print(f"total {seconds['total']:.1f} s; JVM peak RSS {seconds['jvm_peak_rss_mib']:.0f} MiB")
    print("RESULT:", json.dumps({key: round(value, 3) for key, value in seconds.items()}))


if __name__ == "__main__":
    main()
