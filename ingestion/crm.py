"""CRM database -> `raw_crm` (customers, orders, order_items), with dlt's `sql_database` source.

Incremental on `updated_at` with merge on the primary key, so a run loads only what changed since the
last one and a re-run with no changes loads nothing. `order_items` has no `updated_at`: order ids grow
with time, so it is incremental on `order_id`. Soft deletes (`is_deleted`) are kept as flags.
Works with any SQLAlchemy URL; a missing SQLite file or a missing table means "no data yet", while an
unreachable server is an error that names the source.

The CRM is the system of record: its values load as they are (a broken email or phone is staging's to
normalise), with three exceptions that protect the load itself:
- a row without its primary key, or repeating one an earlier row of the same load has, goes to
  `raw_crm.quarantine` (`source_file` is the table, `line_number` the row's position in what the load
  read from it, `raw_line` the row as JSON): a merge on the key would lose it;
- a row whose `updated_at` is more than a day after the run date is left for the run of a later date
  (with a warning): loaded now, it would move the cursor past every real change until then;
- a row whose `updated_at` is null is read by every run (a CRM may leave it empty until a first edit).
A value the warehouse cannot hold at all (SQLite stores anything in any column: text in a number or date
column, bytes that are not UTF-8; an amount beyond decimal(38, 9)) stops the load; `unreadable_values`
names the table, the row and the column.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
from pathlib import Path

import dlt
import pyarrow as pa
import sqlalchemy as sa
from dlt.extract.items_transform import YieldMapItem
from dlt.sources.sql_database import sql_database

from ingestion.files import ReadCounts, as_quarantine
from ingestion.suppression import SuppressionList

log = logging.getLogger(__name__)

# table -> (primary key, incremental cursor)
TABLES = {
    "customers": ("customer_id", "updated_at"),
    "orders": ("order_id", "updated_at"),
    "order_items": (("order_id", "product_id"), "order_id"),
}


# decimal(38, 9), dlt's type for a NUMERIC without precision, holds less than 10**29
DECIMAL_LIMIT = decimal.Decimal(10) ** 29


class SourceUnavailable(RuntimeError):
    """A configured source could not be reached."""


def _redacted(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def available_tables(crm_url: str) -> list[str]:
    """The CRM tables present in the database (none when a SQLite file does not exist yet)."""
    url = sa.engine.make_url(crm_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        log.info("crm: no database file at %s", url.database)
        return []
    engine = sa.create_engine(url)
    try:
        present = set(sa.inspect(engine).get_table_names())
    except sa.exc.SQLAlchemyError as exc:
        raise SourceUnavailable(f"CRM database {_redacted(crm_url)} is unreachable: {exc}") from exc
    finally:
        engine.dispose()
    return [name for name in TABLES if name in present]


def crm_source(
    crm_url: str,
    tables: list[str],
    until: dt.date | None,
    counts: ReadCounts,
    suppressed: SuppressionList | None = None,
):
    """dlt source over the present CRM tables with merge + incremental hints applied; rows of people on
    the suppression list are dropped (and counted) before the key checks."""
    # the end of the day after the run date, in the CRM's (naive, UTC) time
    latest = None if until is None else dt.datetime.combine(until + dt.timedelta(days=2), dt.time())
    if latest is not None:
        _warn_about_later_rows(crm_url, tables, latest)

    def leave_later_rows(query, table):
        if latest is not None and TABLES[table.name][1] == "updated_at":
            return query.where(sa.or_(table.c.updated_at < latest, table.c.updated_at.is_(None)))
        return query

    source = sql_database(
        credentials=crm_url,
        table_names=tables,
        backend="pyarrow",
        reflection_level="full",
        query_adapter_callback=leave_later_rows,
    )
    suppression = Suppression(crm_url, tables, suppressed) if suppressed else None
    for name in tables:
        primary_key, cursor = TABLES[name]
        resource = source.resources[name]
        resource.apply_hints(
            primary_key=primary_key,
            write_disposition="merge",
            incremental=dlt.sources.incremental(cursor, on_cursor_value_missing="include"),
        )
        resource.add_step(AfterIncremental(KeyCheck(name, counts, suppression)))
    return source


class Suppression:
    """Which CRM rows belong to suppressed people: customers by id or email, their orders and order items.

    Orders and order items carry no email, and an order item no customer: the suppressed customers' ids
    and their order ids are read from the CRM once, on the first row that needs them (only when the
    suppression list is not empty).
    """

    def __init__(self, crm_url: str, tables: list[str], suppressed: SuppressionList) -> None:
        self.crm_url, self.tables, self.list = crm_url, tables, suppressed
        self._ids: tuple[set, set] | None = None

    def ids(self) -> tuple[set, set]:
        """(customer ids, order ids) of suppressed people in the CRM."""
        if self._ids is None:
            customers: set = set()
            orders: set = set()
            engine = sa.create_engine(self.crm_url)
            try:
                with engine.connect() as con:
                    if "customers" in self.tables:
                        for customer_id, email in con.execute(
                            sa.text("select customer_id, email from customers")
                        ):
                            if self.list.has("customer_id", customer_id) or self.list.has("email", email):
                                customers.add(customer_id)
                    if "orders" in self.tables:
                        for order_id, customer_id in con.execute(
                            sa.text("select order_id, customer_id from orders")
                        ):
                            if customer_id in customers or self.list.has("customer_id", customer_id):
                                orders.add(order_id)
            finally:
                engine.dispose()
            self._ids = customers, orders
        return self._ids

    def mask(self, table: str, rows: pa.Table) -> list[bool]:
        """True for the rows of a batch of `table` that belong to suppressed people."""
        if table == "customers":
            return self.list.mask(rows, {"customer_id": "customer_id", "email": "email"}).to_pylist()
        customers, orders = self.ids()
        order_ids = rows.column("order_id").to_pylist()
        if table == "order_items":
            return [order_id in orders for order_id in order_ids]
        customer_ids = rows.column("customer_id").to_pylist()
        return [
            order_id in orders or customer_id in customers or self.list.has("customer_id", customer_id)
            for order_id, customer_id in zip(order_ids, customer_ids, strict=True)
        ]


class AfterIncremental(YieldMapItem):
    """A step that dlt places after the incremental filter (affinity 1), so it sees only the rows loaded."""

    placement_affinity = 1.05


class KeyCheck:
    """Counts the rows read and quarantines those whose key is missing or repeats one read earlier in
    the same load."""

    def __init__(self, table: str, counts: ReadCounts, suppression: Suppression | None = None) -> None:
        self.table = table
        self.suppression = suppression
        keys = TABLES[table][0]
        self.keys = (keys,) if isinstance(keys, str) else keys
        self.counts = counts
        self.seen: set[tuple] = set()

    def __call__(self, rows: pa.Table):
        before = self.counts.rows_read[self.table]
        self.counts.rows_read[self.table] += rows.num_rows
        positions = list(range(rows.num_rows))  # in the batch as read, before any row is suppressed
        if self.suppression is not None:
            drop = self.suppression.mask(self.table, rows)
            if any(drop):
                self.counts.rows_suppressed[self.table] += sum(drop)
                positions = [i for i in positions if not drop[i]]
                rows = rows.take(pa.array(positions, pa.int64()))
            if rows.num_rows == 0:
                return
        keys = zip(*(rows.column(name).to_pylist() for name in self.keys), strict=True)
        reasons = [self.reason(key) for key in keys]
        if not any(reasons):
            yield rows
            return
        valid = rows.filter(pa.array([reason is None for reason in reasons]))
        if valid.num_rows:
            yield valid
        rejected = [i for i, reason in enumerate(reasons) if reason]
        yield as_quarantine(
            pa.table(
                {
                    "source_file": pa.array([self.table] * len(rejected), pa.string()),
                    # no lines in a table: the row's position in what this load read from it
                    "line_number": pa.array([before + positions[i] + 1 for i in rejected], pa.int64()),
                    "raw_line": [json.dumps(row, default=str) for row in rows.take(rejected).to_pylist()],
                    "reason": [reasons[i] for i in rejected],
                }
            )
        )

    def reason(self, key: tuple) -> str | None:
        names = ", ".join(self.keys)
        if any(value is None for value in key):
            return f"missing primary key ({names})"
        if key in self.seen:
            shown = ", ".join(f"{name}={value}" for name, value in zip(self.keys, key, strict=True))
            return f"duplicate primary key {shown}: an earlier row of this load has it"
        self.seen.add(key)
        return None


def _warn_about_later_rows(crm_url: str, tables: list[str], latest: dt.datetime) -> None:
    engine = sa.create_engine(crm_url)
    try:
        with engine.connect() as con:
            for name in tables:
                if TABLES[name][1] != "updated_at":
                    continue
                table = sa.Table(name, sa.MetaData(), autoload_with=con)
                count, last = con.execute(
                    sa.select(sa.func.count(), sa.func.max(table.c.updated_at)).where(
                        table.c.updated_at >= latest
                    )
                ).one()
                if count:
                    log.warning(
                        "crm.%s: %d row(s) with updated_at from %s on (the latest %s) are left for a later run date",
                        name,
                        count,
                        latest,
                        last,
                    )
    finally:
        engine.dispose()


def unreadable_values(crm_url: str, tables: list[str], limit: int = 10) -> list[str]:
    """Values of a SQLite CRM that its columns' types cannot read: `table key=value: column: problem`.

    SQLite stores any value in any column; other databases enforce their types, so this finds nothing.
    """
    url = sa.engine.make_url(crm_url)
    if url.get_backend_name() != "sqlite":
        return []
    engine = sa.create_engine(url)
    problems: list[str] = []
    try:
        with engine.connect() as con:
            reflected = [sa.Table(name, sa.MetaData(), autoload_with=con) for name in tables]
            driver = con.connection.driver_connection
            driver.text_factory = bytes  # read text undecoded, to find bytes that are not UTF-8
            for table in reflected:
                keys = TABLES[table.name][0]
                keys = (keys,) if isinstance(keys, str) else keys
                columns = list(table.columns)
                names = ", ".join(f'"{column.name}"' for column in columns)
                for row in driver.execute(f'select {names} from "{table.name}"'):
                    values = dict(zip((column.name for column in columns), row, strict=True))
                    for column in columns:
                        problem = _unreadable(column, values[column.name], engine.dialect)
                        if problem:
                            key = ", ".join(f"{k}={values[k]}" for k in keys)
                            problems.append(f"{table.name} {key}: {column.name} {problem}")
                            if len(problems) >= limit:
                                return problems
    finally:
        engine.dispose()
    return problems


def _unreadable(column: sa.Column, value: object, dialect) -> str | None:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return f"is not valid UTF-8: {value[:40]!r}"
    processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
    try:
        value = processor(value) if processor and value is not None else value
    except (ValueError, TypeError, ArithmeticError) as exc:
        return f"does not read as {column.type}: {_shown(value)} ({exc})"
    if value is None:
        return None
    try:
        expected = column.type.python_type
    except NotImplementedError:  # a type SQLAlchemy does not map: the loader takes the value as it is
        return None
    numbers = (int, float, decimal.Decimal)
    accepted = numbers if expected in (float, decimal.Decimal) else int if expected is bool else expected
    if not isinstance(value, accepted):
        return f"does not read as {column.type}: {_shown(value)}"
    if isinstance(column.type, sa.Numeric) and not isinstance(column.type, sa.Float):
        amount = decimal.Decimal(value)
        if not amount.is_finite() or abs(amount) >= DECIMAL_LIMIT:
            return f"is out of range for decimal(38, 9): {value}"
    return None


def _shown(value: object) -> str:
    text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
    return repr(text[:40])
