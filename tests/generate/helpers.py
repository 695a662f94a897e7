"""Readers and validity checks for the generated landing files, written independently of the generator."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import re
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq

EVENT_KEYS = [
    "event_id", "event_type", "occurred_at", "anonymous_id", "user_id", "email", "session_id", "channel",
    "device", "page", "product", "order_id", "properties",
]  # fmt: skip
REQUIRED = ("event_id", "event_type", "occurred_at", "anonymous_id", "channel")
EVENT_TYPES = {
    "page_view", "product_view", "add_to_cart", "remove_from_cart", "checkout_started", "purchase", "search",
    "login", "signup", "video_play", "form_submit",
}  # fmt: skip
CHANNELS = {"web", "ios", "android", "server"}
# the pattern the ingestion side uses: Combined Log Format plus a quoted cookie
LOG_LINE = re.compile(
    r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+) ?(\S*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)" "([^"]*)"\s*$'
)
CATALOG_HEADER = "product_id,title,description,category,brand,price,currency,tags,launched_at"


def read_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        text = f.read()
    assert text == "" or text.endswith("\n")
    return text.split("\n")[:-1]


def parse_time(text: str) -> dt.datetime:
    """ISO-8601 with an offset (or Z), as an aware datetime; raises ValueError otherwise."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"no UTC offset: {text}")
    return value


def event_problem(line: str, seen_ids: set[str]) -> str | None:
    """Why a line is not a usable event (the generator's kind names), or None; records good ids."""
    try:
        doc = json.loads(line)
    except json.JSONDecodeError:
        return "malformed_json"
    if any(doc.get(key) in (None, "") for key in REQUIRED):
        return "missing_field"
    if doc["event_type"] not in EVENT_TYPES:
        return "unknown_event_type"
    try:
        parse_time(doc["occurred_at"])
    except ValueError:
        return "bad_timestamp"
    if doc["event_id"] in seen_ids:
        return "duplicate"
    seen_ids.add(doc["event_id"])
    return None


def log_problem(line: str) -> str | None:
    match = LOG_LINE.match(line)
    if match is None:
        return "unparseable"
    dt.datetime.strptime(match.group(4), "%d/%b/%Y:%H:%M:%S %z")
    return None


def bad_rows(landing: Path) -> dict[tuple[str, str], dict[int, str]]:
    """(source, file) -> {line_number: kind} from the truth."""
    out: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
    for row in pq.read_table(landing / "_truth" / "bad_rows.parquet").to_pylist():
        out[(row["source"], row["file"])][row["line_number"]] = row["kind"]
    return out


def good_events(landing: Path) -> list[tuple[str, dict]]:
    """(relative file, event) for every line the truth does not list as bad."""
    bad = bad_rows(landing)
    out = []
    for path in sorted((landing / "events").glob("*/*.jsonl.gz")):
        relative = path.relative_to(landing).as_posix()
        skip = bad.get(("events", relative), {})
        out += [(relative, json.loads(line)) for n, line in enumerate(read_lines(path), 1) if n not in skip]
    return out


def catalog_rows(landing: Path) -> tuple[list[str], list[dict]]:
    with (landing / "catalog" / "products.csv").open(newline="", encoding="utf-8") as f:
        header = f.readline().rstrip("\n")
        return header.split(","), list(csv.DictReader(f, fieldnames=header.split(",")))


def utc(text: str) -> dt.datetime:
    return parse_time(text).astimezone(dt.UTC).replace(tzinfo=None)
