"""`_truth/`: what the generator knows and the pipeline must rediscover (never read by the pipeline).

people.parquet      person_id, first_name, last_name, email, country, is_customer, top_categories, top_themes
customers.parquet   customer_id, person_id, is_duplicate (not the person's main record)
identifiers.parquet identifier_type (customer_id|anonymous_id|user_id|email), identifier_value, person_id
                    (a device belongs to its owner, also when a housemate uses it)
pages.parquet       url, path, title, theme of every magazine article
bad_rows.parquet    source (events|logs|catalog), file (relative to the landing dir), line_number, kind
shared_devices.parquet
                    anonymous_id, person_id (its owner), guest_person_id (a housemate who also uses it,
                    logged in as themselves): cookies that must not merge two people
junk_identifiers.parquet
                    identifier_type (email|anonymous_id), identifier_value, occurrences: placeholder values
                    (test addresses, 'undefined' cookies) that identify no one, so they are not in
                    identifiers.parquet; occurrences counts the events generated with them (a bad line
                    may have replaced or copied one)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pwh.generate import vocab
from pwh.generate.crm import Crm
from pwh.generate.lines import BadLine
from pwh.generate.logs import Magazine
from pwh.generate.people import MAX_DEVICES, Population

FILES = ("people.parquet", "customers.parquet", "identifiers.parquet", "pages.parquet", "bad_rows.parquet",
         "shared_devices.parquet", "junk_identifiers.parquet")  # fmt: skip


def write_truth(
    folder: Path,
    pop: Population,
    crm: Crm,
    mag: Magazine,
    bad_rows: list[tuple[str, str, BadLine]],
    junk: Mapping[tuple[str, str], int],
) -> None:
    """Write the FILES above; bad_rows are (source, relative file, bad line), junk (type, value) -> count."""
    folder.mkdir(parents=True, exist_ok=True)
    person_id = np.arange(1, pop.n + 1)  # 1-based, like a database id
    tables = {
        "people.parquet": pa.table({
            "person_id": person_id,
            "first_name": pop.first_name,
            "last_name": pop.last_name,
            "email": pop.email,
            "country": [vocab.COUNTRIES[c].code for c in pop.country],
            "is_customer": crm.record_count > 0,
            "top_categories": pop.top(pop.category_pref, tuple(c.name for c in vocab.CATEGORIES)),
            "top_themes": pop.top(pop.theme_pref, vocab.THEMES),
        }),
        "customers.parquet": pa.table({
            "customer_id": crm.customer_id,
            "person_id": person_id[crm.person],
            "is_duplicate": np.arange(len(crm.person)) != crm.first_record[crm.person],
        }).sort_by("customer_id"),
        "identifiers.parquet": _identifiers(pop, crm, person_id),
        "pages.parquet": pa.table({
            "url": [mag.url(i) for i in range(mag.n)],
            "path": mag.path,
            "title": mag.title,
            "theme": [vocab.THEMES[t] for t in mag.theme],
        }),
        "bad_rows.parquet": pa.table(
            {
                "source": [source for source, _, _ in bad_rows],
                "file": [file for _, file, _ in bad_rows],
                "line_number": pa.array([b.line_number for _, _, b in bad_rows], pa.int64()),
                "kind": [b.kind for _, _, b in bad_rows],
            },
            schema=pa.schema([("source", pa.string()), ("file", pa.string()), ("line_number", pa.int64()),
                              ("kind", pa.string())]),
        ).sort_by([("source", "ascending"), ("file", "ascending"), ("line_number", "ascending")]),
        "shared_devices.parquet": _shared_devices(pop, person_id),
        "junk_identifiers.parquet": pa.table(
            {
                "identifier_type": [kind for kind, _ in sorted(junk)],
                "identifier_value": [value for _, value in sorted(junk)],
                "occurrences": pa.array([junk[key] for key in sorted(junk)], pa.int64()),
            },
            schema=pa.schema([("identifier_type", pa.string()), ("identifier_value", pa.string()),
                              ("occurrences", pa.int64())]),
        ),
    }  # fmt: skip
    for name in FILES:
        pq.write_table(tables[name], folder / name)


def _shared_devices(pop: Population, person_id: np.ndarray) -> pa.Table:
    """One row per device a household guest uses besides its owner, by owner."""
    guest = np.flatnonzero(pop.shared_device >= 0)
    device = pop.shared_device[guest]
    order = np.argsort(device, kind="stable")
    guest, device = guest[order], device[order]
    return pa.table({
        "anonymous_id": pop.anonymous_id.take(device).cast(pa.string()),
        "person_id": person_id[device // MAX_DEVICES],
        "guest_person_id": person_id[guest],
    })  # fmt: skip


def _identifiers(pop: Population, crm: Crm, person_id: np.ndarray) -> pa.Table:
    """Every identifier a source can show for a person; emails trimmed and lower-cased."""
    record_ids = [str(c) for c in crm.customer_id]
    devices = np.flatnonzero(
        np.arange(pop.n * MAX_DEVICES) % MAX_DEVICES < np.repeat(pop.n_devices, MAX_DEVICES)
    )
    emails = {(e, int(p)) for e, p in zip(pop.email, person_id, strict=True)}
    emails |= {(e, int(person_id[p])) for e, p in zip(crm.login_email, crm.person, strict=True)}
    emails_sorted = sorted(emails, key=lambda ep: (ep[1], ep[0]))
    types = ["customer_id"] * len(record_ids) + ["user_id"] * len(record_ids)
    types += ["anonymous_id"] * len(devices) + ["email"] * len(emails_sorted)
    values = (
        record_ids + record_ids + pop.anonymous_id.take(devices).to_pylist() + [e for e, _ in emails_sorted]
    )
    owners = np.concatenate([
        person_id[crm.person], person_id[crm.person], person_id[devices // MAX_DEVICES],
        np.array([p for _, p in emails_sorted], dtype=np.int64),
    ])  # fmt: skip
    return pa.table({"identifier_type": types, "identifier_value": values, "person_id": owners})
