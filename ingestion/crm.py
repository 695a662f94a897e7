"""CRM database -> `raw_crm` (customers, orders, order_items), with dlt's `sql_database` source.

Incremental on `updated_at` with merge on the primary key, so a run loads only what changed since the
last one and a re-run with no changes loads nothing. `order_items` has no `updated_at`: order ids grow
with time, so it is incremental on `order_id`. Soft deletes (`is_deleted`) are kept as flags.
Works with any SQLAlchemy URL; a missing SQLite file or a missing table means "no data yet", while an
unreachable server is an error that names the source.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dlt
import sqlalchemy as sa
from dlt.sources.sql_database import sql_database

log = logging.getLogger(__name__)

# table -> (primary key, incremental cursor)
TABLES = {
    "customers": ("customer_id", "updated_at"),
    "orders": ("order_id", "updated_at"),
    "order_items": (("order_id", "product_id"), "order_id"),
}


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


def crm_source(crm_url: str, tables: list[str]):
    """dlt source over the present CRM tables with merge + incremental hints applied."""
    source = sql_database(credentials=crm_url, table_names=tables, backend="pyarrow", reflection_level="full")
    for name in tables:
        primary_key, cursor = TABLES[name]
        source.resources[name].apply_hints(
            primary_key=primary_key,
            write_disposition="merge",
            incremental=dlt.sources.incremental(cursor),
        )
    return source
