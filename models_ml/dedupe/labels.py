"""Labelled record pairs: built from the sample generator's truth, read and written in dedupe's format.

The committed file ``training/crm_training.json`` is ``{"distinct": [[r1, r2], ...], "match": [...]}``
where r1, r2 are preprocessed records (``features.preprocess``), the format ``prepare_training`` reads.
It was bootstrapped with ``python -m models_ml.dedupe pairs`` (generated people, labels from
``_truth/customers.parquet``); ``pwh dedupe label`` (``learn.label_interactively``) appends human labels.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from models_ml.dedupe.features import Record, Records, preprocess

__all__ = ["TrainingPairs", "build_training_pairs", "read_crm", "read_training_pairs", "read_truth",
           "write_training_pairs"]  # fmt: skip

log = logging.getLogger(__name__)

# different people who share these fields: a shared name, address, birthday or email alone is no match
# (dropping dots from emails makes "erik.harris@" and "erikharris@", two people, the same)
HARD_NEGATIVE_KEYS = (
    ("last_name", "city"),
    ("name",),
    ("email",),
    ("postcode",),
    ("street_address",),
    ("birth_date",),
)
# fields a duplicate may lack or have mistyped; the generator's duplicates always share them
KEY_FIELDS = ("postcode", "phone", "email", "street_address", "birth_date")
TrainingPairs = dict[str, list[Sequence[Record]]]  # {"match": [[r1, r2], ...], "distinct": [...]}


def build_training_pairs(
    records: Records,
    truth: Mapping[Any, Any] | pa.Table,
    n_match: int = 90,
    n_distinct: int = 360,
    seed: int = 0,
    noise_share: float = 0.5,
) -> TrainingPairs:
    """Labelled pairs from records whose person is known (truth: customer_id -> person_id).

    Matches are drawn from all pairs of records of one person. Half the distinct pairs are hard
    negatives, different people who share a HARD_NEGATIVE_KEYS value; the rest are random pairs of
    different people. In noise_share of the matches one record loses or mistypes one or two KEY_FIELDS
    values, as real CRM records do: every generated duplicate shares its postcode and phone number, and
    without this dedupe would learn to compare only records sharing one of them.

    Keep n_match at 95 or below: dedupe adds 4 examples of its own, and from 100 matches on it searches
    a random forest of blocking-rule conjunctions, the step that can stall for many minutes
    (dedupeio/dedupe#959, #1024).
    """
    data = preprocess(records)
    person = _truth_map(truth)
    ids = sorted(i for i in data if i in person)
    rng = random.Random(seed)

    by_person: dict[Any, list] = defaultdict(list)
    for i in ids:
        by_person[person[i]].append(i)
    matches = [(a, b) for group in by_person.values() for k, a in enumerate(group) for b in group[k + 1 :]]
    matches = rng.sample(matches, min(n_match, len(matches)))

    distinct: set[tuple] = set()
    blocks_by_key = {key: defaultdict(list) for key in HARD_NEGATIVE_KEYS}
    for i in ids:
        for key, blocks in blocks_by_key.items():
            value = tuple(data[i][field] for field in key)
            if all(value):
                blocks[value].append(i)
    per_key = n_distinct // 2 // len(HARD_NEGATIVE_KEYS)
    for blocks in blocks_by_key.values():
        multi = [block for block in blocks.values() if len(block) > 1]
        _add_distinct(distinct, multi, person, rng, len(distinct) + per_key)
    _add_distinct(distinct, [ids], person, rng, n_distinct)
    if len(matches) < n_match or len(distinct) < n_distinct:
        log.warning("only %d match and %d distinct pairs available", len(matches), len(distinct))

    match_pairs = [[data[a], data[b]] for a, b in sorted(matches)]
    for pair in match_pairs:
        if rng.random() < noise_share:
            pair[1] = _damaged(pair[1], rng)
    return {"distinct": [[data[a], data[b]] for a, b in sorted(distinct)], "match": match_pairs}


def _add_distinct(
    distinct: set[tuple], blocks: list[list], person: Mapping, rng: random.Random, until: int
) -> None:
    """Add pairs of different people from random blocks until there are `until` pairs (or give up)."""
    for _ in range(50 * until):
        if len(distinct) >= until or not blocks:
            return
        block = blocks[rng.randrange(len(blocks))]
        a, b = rng.sample(block, 2)
        if person[a] != person[b]:
            distinct.add((min(a, b), max(a, b)))


def _damaged(record: Record, rng: random.Random) -> Record:
    """A copy of record with one or two key fields blanked or mistyped (one character)."""
    damaged = dict(record)
    present = [f for f in KEY_FIELDS if record[f]]
    for field in rng.sample(present, min(len(present), rng.choice((1, 2)))):
        value = damaged[field]
        if rng.random() < 0.5:
            damaged[field] = None
        else:
            i = rng.randrange(len(value))
            pool = "0123456789" if value[i].isdigit() else "abcdefghijklmnopqrstuvwxyz"
            damaged[field] = value[:i] + rng.choice(pool.replace(value[i], "")) + value[i + 1 :]
    return damaged


def _truth_map(truth: Mapping[Any, Any] | pa.Table) -> Mapping[Any, Any]:
    if isinstance(truth, pa.Table):
        return dict(zip(truth["customer_id"].to_pylist(), truth["person_id"].to_pylist(), strict=True))
    return truth


def write_training_pairs(pairs: Mapping[str, Sequence[Sequence[Record]]], path: Path) -> None:
    """Write pairs as dedupe's training JSON, one pair a line (readable diffs in review)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = []
    for label in ("distinct", "match"):
        lines = ",\n".join(json.dumps([dict(a), dict(b)], sort_keys=True) for a, b in pairs.get(label, []))
        parts.append(f'"{label}": [\n{lines}\n]')
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("{" + ",\n".join(parts) + "}\n")
    os.replace(tmp, path)  # never leave a half-written training file behind
    log.info("wrote %d match / %d distinct pairs to %s", len(pairs["match"]), len(pairs["distinct"]), path)


def read_training_pairs(path: Path) -> TrainingPairs:
    with open(path) as f:
        pairs = json.load(f)
    return {"distinct": pairs.get("distinct", []), "match": pairs.get("match", [])}


# --- generator files ----------------------------------------------------------------------------------


def read_crm(path: Path) -> list[dict[str, Any]]:
    """The customers table of a generated (or any SQLite) CRM as row dicts."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("select * from customers order by customer_id")]


def read_truth(landing_dir: Path) -> dict[int, int]:
    """customer_id -> person_id from the generator's ``_truth/customers.parquet``."""
    table = pq.read_table(
        Path(landing_dir) / "_truth" / "customers.parquet", columns=["customer_id", "person_id"]
    )
    return dict(_truth_map(table))
