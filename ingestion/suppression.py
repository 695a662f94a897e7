"""The suppression list: people `pwh forget` erased, as hashed identifiers, so that sources that still
hold them do not load them again.

The list lives in `<data_dir>/privacy/suppression_list.parquet`, outside the warehouse and the lake, so
that no rebuild of either loses it. One row per identifier: `identifier_type` (customer_id, user_id,
email, anonymous_id), `sha256` of the normalised value (trimmed, lower case: `normalise`), the erasure
that added it and when. No value is stored in clear.

Ingestion drops matching rows before they reach the lake or the warehouse and counts them in the load
audit (`rows_suppressed`): rows whose identifier columns hold a suppressed value (`split`), and
quarantined lines that mention a suppressed email, cookie or user id anywhere in their text
(`mentions`: every word-like token of the line is hashed; numeric ids are only matched in their columns,
a number in free text could be anything). An empty or missing list costs nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

IDENTIFIER_TYPES = ("customer_id", "user_id", "email", "anonymous_id")
# identifiers distinctive enough to be found in free text (a quarantined line, a report): not numeric ids
TEXT_TYPES = ("email", "anonymous_id", "user_id")
SCHEMA = pa.schema(
    [
        ("identifier_type", pa.string()),
        ("sha256", pa.string()),
        ("erasure_id", pa.string()),
        ("added_at", pa.timestamp("us", tz="UTC")),
    ]
)
TOKEN = re.compile(r"[\w.%+@-]+")


def suppression_path(data_dir: Path) -> Path:
    return data_dir / "privacy" / "suppression_list.parquet"


def normalise(value: object) -> str:
    return str(value).strip().lower()


def digest(value: object) -> str:
    """sha256 (hex) of the normalised value: how an identifier is kept in the list."""
    return hashlib.sha256(normalise(value).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SuppressionList:
    hashes: dict[str, frozenset[str]] = field(default_factory=dict)  # identifier type -> sha256 values

    @classmethod
    def load(cls, data_dir: Path) -> SuppressionList:
        path = suppression_path(data_dir)
        if not path.exists():
            return cls()
        rows = pq.read_table(path, columns=["identifier_type", "sha256"]).to_pylist()
        found: dict[str, set[str]] = {}
        for row in rows:
            found.setdefault(row["identifier_type"], set()).add(row["sha256"])
        return cls({kind: frozenset(values) for kind, values in found.items()})

    def __bool__(self) -> bool:
        return any(self.hashes.values())

    def has(self, kind: str, value: object) -> bool:
        return value is not None and digest(value) in self.hashes.get(kind, frozenset())

    def mask(self, rows: pa.Table, columns: dict[str, str]) -> pa.ChunkedArray | pa.Array:
        """True for the rows whose column (name -> identifier type) holds a suppressed value."""
        result = pa.array([False] * rows.num_rows, pa.bool_())
        for name, kind in columns.items():
            if name not in rows.column_names or not self.hashes.get(kind):
                continue
            values = pc.unique(rows.column(name).drop_null()).to_pylist()
            hits = [value for value in values if self.has(kind, value)]
            if hits:
                found = pc.fill_null(
                    pc.is_in(rows.column(name), pa.array(hits, rows.schema.field(name).type)), False
                )
                result = pc.or_(result, found)
        return result

    def mentions(self, text: str | None) -> bool:
        """Whether a line of free text holds a suppressed email, cookie or user id as one of its tokens."""
        if not text or not self:
            return False
        known = frozenset().union(*(self.hashes.get(kind, frozenset()) for kind in TEXT_TYPES))
        return any(digest(token.strip(".")) in known for token in TOKEN.findall(text))

    def split(
        self, rows: pa.Table, columns: dict[str, str], text_column: str | None = None
    ) -> tuple[pa.Table, int]:
        """(the rows to load, how many were suppressed): by identifier columns, and by the text of
        `text_column` (a quarantined raw line) when given."""
        if not self or rows.num_rows == 0:
            return rows, 0
        drop = self.mask(rows, columns)
        if text_column is not None:
            said = pa.array([self.mentions(text) for text in rows.column(text_column).to_pylist()])
            drop = pc.or_(drop, said)
        suppressed = pc.sum(drop).as_py() or 0
        return (rows.filter(pc.invert(drop)) if suppressed else rows), suppressed


def add(data_dir: Path, identifiers: Iterable[tuple[str, object]], erasure_id: str) -> int:
    """Add (identifier type, value) pairs to the list (hashed); returns how many were new."""
    path = suppression_path(data_dir)
    existing = pq.read_table(path, schema=SCHEMA) if path.exists() else SCHEMA.empty_table()
    have = set(
        zip(
            existing.column("identifier_type").to_pylist(), existing.column("sha256").to_pylist(), strict=True
        )
    )
    now = dt.datetime.now(dt.UTC)
    new = sorted({(kind, digest(value)) for kind, value in identifiers if value is not None} - have)
    if not new:
        return 0
    added = pa.table(
        {
            "identifier_type": [kind for kind, _ in new],
            "sha256": [hashed for _, hashed in new],
            "erasure_id": [erasure_id] * len(new),
            "added_at": [now] * len(new),
        },
        schema=SCHEMA,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.concat_tables([existing, added]), temporary)
    with temporary.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return len(new)
