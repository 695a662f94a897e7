"""MovieLens ratings through pwh's own event format and ingestion, for `benchmarks/movielens.py`.

1. `write_events`: every rating becomes one analytics event (ingestion/schemas/event.schema.json) in a
   landing zone, as gzip JSON lines under `events/YYYY-MM-DD/events-0001.jsonl.gz` (the UTC day of the
   rating). The event type is `product_view`: a rating says the user watched the movie, and every rating
   counts as one implicit positive, as in the direct-CSV path; the star rating rides along in
   `properties.rating`. Ids: event_id `ml-<userId>-<movieId>` (stable, so a re-run is a duplicate),
   anonymous_id `ml-anon-<userId>`, user_id `<userId>`, product_id `M<movieId>`.
2. `ingest_events`: pwh's real ingestion (`pwh.pipeline.ingest`, events source only) into a warehouse
   under the same temporary folder; its audit rows must show every rating loaded, none quarantined.
3. `read_interactions`: the loaded events read back from `raw_events.events` as the interaction table
   (user_id, item_id, event_type, occurred_at).

The JSON is built by DuckDB in one query; Python only gzips one file per day (~4,100 days).
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EVENT_TYPE = "product_view"
FILE_NAME = "events-0001.jsonl.gz"

# One JSON object per rating, keys in the schema's order; DuckDB writes SQL NULL as JSON null.
EVENTS_SQL = """
select
    strftime(make_timestamp(cast(timestamp as bigint) * 1000000), '%Y-%m-%d') as day,
    to_json({
        event_id: 'ml-' || userId || '-' || movieId,
        event_type: 'product_view',
        occurred_at: strftime(make_timestamp(cast(timestamp as bigint) * 1000000), '%Y-%m-%dT%H:%M:%SZ'),
        anonymous_id: 'ml-anon-' || userId,
        user_id: cast(userId as varchar),
        email: null::varchar,
        session_id: null::varchar,
        channel: 'web',
        device: null::struct(type varchar, os varchar, browser varchar),
        page: null::struct(url varchar, title varchar, referrer varchar),
        product: {product_id: 'M' || movieId, price: null::double, currency: null::varchar, quantity: 1},
        order_id: null::varchar,
        properties: {rating: cast(rating as double)}
    }) as line
from read_csv(?, header = true, columns = {
    'userId': 'bigint', 'movieId': 'bigint', 'rating': 'double', 'timestamp': 'bigint'
})
order by timestamp, userId, movieId
"""

# MovieLens ids come back as the integers they were (user_id '17' -> 17, product_id 'M2571' -> 2571):
# the interaction matrix sorts its rows and columns by id, and the seeded random split and the models'
# tie-breaks follow that order, so integer ids make the matrices, hence the figures, identical to the
# direct-CSV path's (string ids would sort '10' before '2' and shuffle a different split).
INTERACTIONS_SQL = """
select
    cast(user_id as bigint) as user_id,
    cast(substr(product_id, 2) as bigint) as item_id,
    event_type,
    occurred_at
from raw_events.events
where cast(json_extract_string(properties, '$.rating') as double) >= ?
order by user_id, item_id
"""


@dataclass(frozen=True)
class Landing:
    events: int
    files: int
    first_day: dt.date
    last_day: dt.date


def write_events(ratings_csv: Path, landing_dir: Path) -> Landing:
    """ratings.csv -> `<landing_dir>/events/YYYY-MM-DD/events-0001.jsonl.gz`, one event per rating."""
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'; set enable_progress_bar = false")
        table = con.execute(EVENTS_SQL, [str(ratings_csv)]).arrow().read_all()
    days = table["day"].to_numpy(zero_copy_only=False)
    lines = table["line"].to_pylist()
    # rows are sorted by time, so each day is one contiguous run
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    ends = np.r_[starts[1:], len(days)]
    for start, end in zip(starts, ends, strict=True):
        folder = landing_dir / "events" / days[start]
        folder.mkdir(parents=True, exist_ok=True)
        body = ("\n".join(lines[start:end]) + "\n").encode()
        (folder / FILE_NAME).write_bytes(gzip.compress(body, compresslevel=1, mtime=0))
    return Landing(
        table.num_rows, len(starts), dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
    )


@contextmanager
def temporary_pwh(root: Path) -> Iterator[object]:
    """pwh settings whose every path is under `root` (the environment is restored on exit).

    PWH_DATA_DIR and PWH_LANDING_DIR are what matter; the other paths are pinned too, so a PWH_ variable
    or config file of the caller's can never point this run at a real warehouse or lake.
    """
    from pwh.settings import load_settings

    data = root / "data"
    pinned = {
        "PWH_DATA_DIR": data,
        "PWH_LANDING_DIR": root / "landing",
        "PWH_WAREHOUSE_PATH": data / "warehouse" / "pwh.duckdb",
        "PWH_LAKE_URL": data / "lake",
        "PWH_DLT_DIR": data / "dlt",
        "PWH_EXPORTS_DIR": data / "exports",
    }
    saved = {name: os.environ.get(name) for name in pinned}
    os.environ.update({name: str(path) for name, path in pinned.items()})
    try:
        settings = load_settings()
        for path in (
            settings.landing_dir,
            settings.warehouse_path,
            settings.dlt_dir,
            Path(settings.lake_url),
        ):
            if not path.resolve().is_relative_to(root.resolve()):
                raise RuntimeError(f"pwh settings point outside the temporary folder: {path}")
        yield settings
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def ingest_events(settings, landing: Landing, run_id: str = "movielens") -> tuple[object, str]:
    """pwh's ingestion of the events source; returns its audit row and a one-line summary.

    Raises when any rating was quarantined (with the commonest reasons) or did not arrive.
    """
    from pwh.pipeline import ingest
    from pwh.warehouse import connect

    run_date = landing.last_day + dt.timedelta(days=1)
    rows = ingest(settings, run_date=run_date, run_id=run_id, sources=("events",))
    if len(rows) != 1:
        raise RuntimeError(f"expected one audit row for the events source, got {rows}")
    (row,) = rows
    line = (
        f"ingest audit: run {row.run_id}, run date {row.run_date}, {row.source}.{row.table_name}: "
        f"files {row.files_read:,}, rows read {row.rows_read:,}, loaded {row.rows_loaded:,}, "
        f"quarantined {row.rows_quarantined:,} (ratings written {landing.events:,} in {landing.files:,} files)"
    )
    problems = []
    if row.rows_quarantined:
        with connect(settings.warehouse_path, read_only=True) as con:
            reasons = con.execute(
                "select reason, count(*) from raw_events.quarantine group by 1 order by 2 desc limit 5"
            ).fetchall()
        problems.append(
            f"{row.rows_quarantined:,} rating(s) quarantined: "
            + "; ".join(f"{count:,} x {reason}" for reason, count in reasons)
        )
    if not (row.rows_read == row.rows_loaded == landing.events):
        problems.append(
            f"ratings lost: {landing.events:,} written, {row.rows_read:,} read, {row.rows_loaded:,} loaded"
        )
    if row.files_read != landing.files:
        problems.append(f"{landing.files:,} files written, {row.files_read:,} read")
    if problems:
        raise RuntimeError(f"{line}\n" + "\n".join(problems))
    return row, line


def read_interactions(settings, min_rating: float, expected_events: int) -> pa.Table:
    """The loaded MovieLens events as an interaction table (user_id, item_id, event_type, occurred_at)."""
    from pwh.warehouse import connect

    with connect(settings.warehouse_path, read_only=True) as con:
        total, odd_ids = con.execute(
            """
            select count(*),
                count(*) filter (where try_cast(user_id as bigint) is null
                    or not regexp_full_match(product_id, 'M[0-9]+') or event_type <> ?
                    or try_cast(json_extract_string(properties, '$.rating') as double) is null)
            from raw_events.events
            """,
            [EVENT_TYPE],
        ).fetchone()
        if total != expected_events or odd_ids:
            raise RuntimeError(
                f"raw_events.events holds {total:,} rows ({odd_ids:,} not MovieLens-shaped); "
                f"expected {expected_events:,} MovieLens ratings"
            )
        table = con.execute(INTERACTIONS_SQL, [min_rating]).arrow().read_all()
    return table.cast(
        pa.schema(
            [
                ("user_id", pa.int64()),
                ("item_id", pa.int64()),
                ("event_type", pa.string()),
                ("occurred_at", pa.timestamp("us", tz="UTC")),
            ]
        )
    )


def same_interactions(left: pa.Table, right: pa.Table) -> bool:
    """Equal as multisets of rows (order ignored)."""
    keys = [("user_id", "ascending"), ("item_id", "ascending"), ("occurred_at", "ascending")]
    columns = ["user_id", "item_id", "event_type", "occurred_at"]
    left = left.select(columns)
    right = right.select(columns).cast(left.schema)
    return left.num_rows == right.num_rows and left.take(pc.sort_indices(left, keys)).equals(
        right.take(pc.sort_indices(right, keys))
    )
