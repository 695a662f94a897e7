"""`pwh forget` on a real run of the sample: no trace of the person is left anywhere pwh writes, also after
the next `pwh run` over a landing zone that still holds them (and new data of theirs)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pwh.publish import build_settings
from pwh.settings import Settings
from tests.sample import SAMPLE_RUN_DATE

PWH = Path(sys.executable).parent / "pwh"
KEYS = {"customer_id": "customer_id", "user_id": "user_id", "order_id": "order_id", "person_id": "person_id"}

pytestmark = pytest.mark.slow


def pwh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PWH, *args], capture_output=True, text=True, env=os.environ, timeout=900)


def pick_person(settings: Settings) -> dict[str, set[str]]:
    """A person with an email, CRM orders, cookies seen in events and logs, and rows in segment exports."""
    exported = {
        row["person_id"]
        for path in settings.exports_dir.rglob("*.csv")
        for row in csv.DictReader(path.open(encoding="utf-8"))
    }
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        con.execute(
            "create temp table exported as select unnest(?::varchar[]) as person_id", [sorted(exported)]
        )
        person_id = con.execute(
            """
            with ids as (select * from marts.user_identities where person_id in (select person_id from exported))
            select ids.person_id
            from ids
            group by ids.person_id
            having count(*) filter (where identifier_type = 'email') = 1
                and count(*) filter (where identifier_type = 'customer_id') = 1
                and exists (select 1 from raw_crm.orders as orders
                    where cast(orders.customer_id as varchar) = any(list(identifier_value) filter (where identifier_type = 'customer_id')))
                and exists (select 1 from raw_logs.page_visits as visits
                    where visits.anonymous_id = any(list(identifier_value) filter (where identifier_type = 'anonymous_id')))
            order by count(*) desc, ids.person_id
            limit 1
            """
        ).fetchone()[0]
        person: dict[str, set[str]] = {"person_id": {person_id}}
        for kind, value in con.execute(
            "select identifier_type, identifier_value from marts.user_identities where person_id = ?",
            [person_id],
        ).fetchall():
            person.setdefault(kind, set()).add(value)
        orders = con.execute(
            "select distinct cast(order_id as varchar) from raw_crm.orders where cast(customer_id as varchar) in ?",
            [list(person["customer_id"])],
        ).fetchall()
        # their phone and street address, where no one else's record has the same
        details = con.execute(
            """
            select value from (
                select unnest([phone, street_address]) as value, cast(customer_id as varchar) in ? as is_theirs
                from raw_crm.customers
            )
            where value is not null and length(value) >= 8
            group by value having bool_and(is_theirs)
            """,
            [list(person["customer_id"])],
        ).fetchall()
    person["order_id"] = {order_id for (order_id,) in orders}
    # distinctive personal data besides identifiers: searched as text too
    person["detail"] = {value for (value,) in details}
    return person


def text_terms(person: dict[str, set[str]]) -> set[str]:
    """What can be searched for in any text or bytes: emails, cookies, person ids, phones, addresses."""
    kinds = ("email", "anonymous_id", "person_id", "detail")
    return {value.lower() for kind in kinds for value in person.get(kind, ())}


def traces(settings: Settings, person: dict[str, set[str]]) -> list[str]:
    """Every place under the data dir (and the published and build warehouses) that still holds the person."""
    terms = text_terms(person)
    found: list[str] = []
    files = [path for path in settings.data_dir.rglob("*") if path.is_file()]
    for path in files:
        if path.is_relative_to(settings.landing_dir):
            continue  # the source systems: pwh never writes there
        data = path.read_bytes()
        if data.startswith(b"\x1f\x8b"):
            data = gzip.decompress(data)
        lowered = data.lower()
        found += [f"{path}: bytes hold {term}" for term in terms if term.encode() in lowered]
        if path.suffix == ".duckdb":
            found += duckdb_traces(path, person)
        elif path.suffix == ".parquet":
            found += arrow_traces(str(path), duckdb.connect(), pq.read_table(path), person)
    return found


def duckdb_traces(path: Path, person: dict[str, set[str]]) -> list[str]:
    con = duckdb.connect()
    con.execute(f"attach '{path}' as {path.stem} (read_only)")
    found = []
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ?", [path.stem]
    ).fetchall()
    for schema, table in tables:
        found += arrow_traces(f"{path}:{schema}.{table}", con, f'{path.stem}."{schema}"."{table}"', person)
    return found


def arrow_traces(where: str, con, relation, person: dict[str, set[str]]) -> list[str]:
    """Rows of a table (a DuckDB relation name or an Arrow table) with a person's key or text value."""
    if not isinstance(relation, str):
        con.register("rows_to_search", relation)
        relation = "rows_to_search"
    checks = []
    for name, kind, *_ in con.execute(f"describe select * from {relation}").fetchall():
        column = f'"{name}"'
        if name in KEYS and person.get(KEYS[name]):
            values = ", ".join(f"'{value}'" for value in sorted(person[KEYS[name]]))
            checks.append((f"{name} in ({values})", f"cast({column} as varchar) in ({values})"))
        if kind.startswith(("VARCHAR", "JSON", "STRUCT", "MAP")) or kind.endswith("]"):
            pattern = "|".join(re.escape(term) for term in sorted(text_terms(person))).replace("'", "''")
            condition = f"regexp_matches(lower(cast({column} as varchar)), '{pattern}')"
            checks.append((f"{name} holds one of {pattern}", condition))
    if not checks:
        return []
    counts = con.execute(
        "select "
        + ", ".join(f"count(*) filter (where {condition})" for _, condition in checks)
        + f" from {relation}"
    ).fetchone()
    return [
        f"{where}: {rows} row(s) with {label}"
        for (label, _), rows in zip(checks, counts, strict=True)
        if rows
    ]


def add_landing_data(settings: Settings, person: dict[str, set[str]], day: dt.date) -> None:
    """New data of the forgotten person in every source: new event and log files of the day, an update of
    their CRM customer record and a new order with an item."""
    (email,) = person["email"]
    cookie = sorted(person["anonymous_id"])[0]
    customer_id = int(next(iter(person["customer_id"])))
    stamp = f"{day.isoformat()}T10:00:00+00:00"
    events = settings.landing_dir / "events" / day.isoformat()
    events.mkdir(parents=True, exist_ok=True)
    event = {
        "event_id": "forget-test-event", "event_type": "login", "occurred_at": stamp, "anonymous_id": cookie,
        "user_id": None, "email": email, "session_id": "forget-test-session", "channel": "web",
        "device": {"type": "desktop", "os": "Linux", "browser": "Firefox"},
        "page": {"url": "https://shop.example.com/account", "title": "Account", "referrer": None},
        "product": None, "order_id": None, "properties": {},
    }  # fmt: skip
    malformed = (
        '{"event_id": "forget-test-broken", "anonymous_id": "' + cookie + '", '
    )  # quarantined, suppressed
    (events / "forget.jsonl").write_text(json.dumps(event) + "\n" + malformed + "\n")
    logs = settings.landing_dir / "logs" / day.isoformat()
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "forget.log").write_text(
        f'10.0.0.1 - - [{day:%d/%b/%Y}:10:00:00 +0000] "GET /account HTTP/1.1" 200 512 "-" "Mozilla/5.0" "{cookie}"\n'
    )
    changed = f"{day + dt.timedelta(days=1)} 09:00:00"  # after every CRM cursor, before the run's limit
    crm = sqlite3.connect(settings.landing_dir / "crm.sqlite")
    with crm:
        crm.execute(
            "update customers set updated_at = ?, city = 'Elsewhere' where customer_id = ?",
            [changed, customer_id],
        )
        order_id = crm.execute("select max(order_id) + 1 from orders").fetchone()[0]
        crm.execute(
            "insert into orders (order_id, customer_id, ordered_at, status, currency, total_amount, updated_at) "
            "values (?, ?, ?, 'completed', 'EUR', 10, ?)",
            [order_id, customer_id, changed, changed],
        )
        product_id = crm.execute("select product_id from order_items limit 1").fetchone()[0]
        crm.execute("insert into order_items values (?, ?, 1, 10)", [order_id, product_id])
    crm.close()
    person["order_id"].add(str(order_id))


def test_forget_leaves_no_trace_also_after_the_next_run(sample_built):
    settings, _ = sample_built
    build = build_settings(settings)
    person = pick_person(settings)
    assert traces(settings, person), "the chosen person must be somewhere to begin with"
    (email,) = person["email"]

    dry = pwh("forget", "--email", f"  {email.upper()} ", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "Dry run" in dry.stdout and traces(settings, person)

    done = pwh("forget", "--email", f"  {email.upper()} ")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exports/" in done.stdout  # the export files that held the person are listed
    leftover = traces(settings, person)
    assert leftover == [], "\n".join(leftover[:20])
    assert settings.warehouse_path.stat().st_mode & 0o777 == 0o640, "rewritten, still owner and group only"

    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        identified_by, rows_removed, exports, details = con.execute(
            "select identified_by, rows_removed, export_files, details from audit.erasures"
        ).fetchone()
    assert identified_by == "email" and rows_removed > 0 and json.loads(exports)
    log_text = (settings.data_dir / "privacy" / "erasures.jsonl").read_text()
    for value in (*person["customer_id"], *person["user_id"]):
        assert f'"{value}"' not in details and f'"{value}"' not in log_text  # counts and paths, no ids

    again = pwh("forget", "--email", email)
    assert again.returncode == 1 and "forgotten before" in again.stderr

    # the landing zone still holds the person, and now new files of theirs and a CRM update: the run of the
    # same date loads only those (a later date would empty the sample's time-window segments)
    add_landing_data(settings, person, SAMPLE_RUN_DATE)
    run = pwh("run", "--date", SAMPLE_RUN_DATE.isoformat())
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    leftover = traces(settings, person)
    assert leftover == [], "\n".join(leftover[:20])

    with duckdb.connect(str(build.warehouse_path), read_only=True) as con:
        audit = con.execute(
            """
            select source || '.' || table_name, rows_read, rows_loaded, rows_quarantined, rows_suppressed
            from audit.load_audit
            where run_id = (select run_id from audit.load_audit where run_date = ? order by finished_at desc limit 1)
            """,
            [SAMPLE_RUN_DATE],
        ).fetchall()
    suppressed = {table: rows for table, _, _, _, rows in audit}
    assert all(read == loaded + quarantined + sup for _, read, loaded, quarantined, sup in audit), audit
    # the new event and its malformed twin, the log line, the updated customer, the new order and its item
    assert suppressed["events.events"] == 2 and suppressed["logs.page_visits"] == 1, audit
    assert suppressed["crm.customers"] == 1 and suppressed["crm.orders"] == 1, audit
    assert suppressed["crm.order_items"] == 1, audit


def test_forget_needs_a_known_person(sample_built):
    done = pwh("forget", "--email", "nobody@nowhere.example")
    assert done.returncode == 1 and "no one with that email" in done.stderr
    done = pwh("forget", "--email", "a@b.example", "--person-id", "p_1")
    assert done.returncode == 1 and "exactly one" in done.stderr
