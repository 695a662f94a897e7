"""Analysts see no direct identifiers unless their role allows it (issue 7).

`pwh publish` writes two files: the full warehouse (owner and group only) and the analyst warehouse
(world-readable: the marts, with emails and phones pseudonymised and names removed by dbt's `analyst`
views). The sample's one `pwh run` (tests/conftest.py `sample_run`) has published both; the tests on it
only read them, so they add seconds, not a run.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import stat
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pwh.cli import app
from pwh.publish import PublishError, build_settings, publish
from pwh.segments.export import export_segment
from tests.conftest import settings_for

# Direct identifiers of the sample, from the full warehouse: emails, phones (raw and E.164) and street
# addresses are looked for inside any text; names are compared whole (a first name may be part of a city).
IDENTIFIERS_SQL = """
select distinct lower(trim(value)) as value from (
    select unnest([email, phone, street_address]) as value from raw_crm.customers
    union all select unnest([email, phone]) from staging.stg_crm__customers
    union all select email from raw_events.events
) where length(trim(value)) >= 6
"""
NAMES_SQL = """
select distinct lower(trim(value)) as value from (
    select unnest([first_name, last_name]) as value from raw_crm.customers
) where value is not null
"""
RUN_DATE = dt.date(2026, 1, 2)


@pytest.fixture(scope="module")
def published(sample_run: tuple[Path, str]) -> tuple[Path, Path]:
    """(full, analyst) warehouse files of the sample run: read-only, shared by the tests of this module."""
    data_dir, _ = sample_run
    return data_dir / "warehouse" / "pwh.duckdb", data_dir / "warehouse" / "pwh_analyst.duckdb"


@pytest.fixture
def sample_env(sample_run: tuple[Path, str], monkeypatch: pytest.MonkeyPatch):
    """Settings (and PWH_ environment) of the sample run's data dir, for commands that only read it."""
    data_dir, _ = sample_run
    return settings_for(data_dir, monkeypatch)


def both(full: Path, analyst: Path) -> duckdb.DuckDBPyConnection:
    """Both files in one connection, as catalogs `pwh` (its staging views refer to it by that name) and
    `analyst_warehouse`."""
    con = duckdb.connect()
    con.execute(f"attach '{full}' as pwh (read_only)")
    con.execute(f"attach '{analyst}' as analyst_warehouse (read_only)")
    return con


def identifiers_in(con: duckdb.DuckDBPyConnection, catalog: str, schema: str | None = None) -> list[tuple]:
    """(schema, table, column, rows) of every varchar column of `catalog` (or of its `schema`) that holds
    a sample identifier (IDENTIFIERS_SQL inside its text, NAMES_SQL as the whole value)."""
    con.execute("use pwh")
    pattern = con.execute(
        f"select string_agg(regexp_escape(value), '|') from ({IDENTIFIERS_SQL})"
    ).fetchone()[0]
    con.execute(f"create or replace temp table names as {NAMES_SQL}")
    con.execute("use memory")
    assert pattern.count("@") > 100, "the sample has emails to look for"
    assert con.execute("select count(*) from names").fetchone()[0] > 100, "and names"
    columns = con.execute(  # literals: with parameters DuckDB binds every view of every catalog first
        "select schema_name, table_name, column_name from duckdb_columns() "
        f"where database_name = '{catalog}' and data_type = 'VARCHAR' and schema_name like '{schema or '%'}'"
    ).fetchall()
    texts = " union all ".join(
        f"select '{schema}', '{table}', '{column}', lower(trim(\"{column}\")) "
        f'from {catalog}."{schema}"."{table}"'
        for schema, table, column in columns
    )
    # every value in one table, then one filter: the pattern (a literal: a parameter would be compiled
    # for every row) is compiled once, not once per column
    con.execute(
        f"create or replace temp table texts (schema_name, table_name, column_name, value) as {texts}"
    )
    pattern = pattern.replace("'", "''")
    return con.execute(
        f"""
        select schema_name, table_name, column_name, count(*)
        from texts
        where regexp_matches(value, '{pattern}') or value in (select value from names)
        group by all order by all
        """
    ).fetchall()


def test_no_direct_identifier_of_the_sample_is_in_the_analyst_warehouse(published):
    full, analyst = published
    with both(full, analyst) as con:
        assert identifiers_in(con, "analyst_warehouse") == []
        in_full = {
            (schema, table, column) for schema, table, column, _ in identifiers_in(con, "pwh", "marts")
        }
        schemas = con.execute(
            "select distinct schema_name from duckdb_tables() where database_name = 'analyst_warehouse'"
        ).fetchall()
    assert {
        ("marts", "user_profiles", "email"),
        ("marts", "user_identities", "identifier_value"),
    } <= in_full, "the search finds identifiers where they are"
    assert sorted(schemas) == [("audit",), ("marts",)], "no raw, staging or ml schema"


def test_analyst_marts_have_the_full_marts_rows_and_pseudonyms_that_join(published):
    full, analyst = published
    with both(full, analyst) as con:
        marts = con.execute(
            "select table_name from duckdb_tables() where database_name = 'pwh' and schema_name = 'marts'"
        ).fetchall()
        for (table,) in marts:
            counts = [
                con.execute(f'select count(*) from {catalog}.marts."{table}"').fetchone()[0]
                for catalog in ("pwh", "analyst_warehouse")
            ]
            assert counts[0] == counts[1], table
        # the pseudonym is a pure function of the value: stable across runs, the same in every table
        emails, same_pseudonym = con.execute(
            """
            select count(*), count(*) filter (where masked.email = substring(md5(lower(trim(raw.email))), 1, 16))
            from pwh.marts.user_profiles as raw
            join analyst_warehouse.marts.user_profiles as masked using (person_id)
            where raw.email is not null
            """
        ).fetchone()
        assert emails == same_pseudonym > 100
        join = """
            select count(*), count(distinct profiles.email)
            from {catalog}.marts.user_profiles as profiles
            join {catalog}.marts.user_identities as identities
                on identities.identifier_type = 'email' and identities.identifier_value = profiles.email
        """
        joined = [
            con.execute(join.format(catalog=catalog)).fetchone() for catalog in ("pwh", "analyst_warehouse")
        ]
        assert joined[0] == joined[1] and joined[0][0] > 100
        names = con.execute(
            "select count(first_name), count(last_name), count(birth_date), count(age) "
            "from analyst_warehouse.marts.user_profiles"
        ).fetchone()
        assert names[:3] == (0, 0, 0) and names[3] > 0, "names and birth date removed, age kept"
        runs = [
            con.execute(f"select list(run_id order by run_id) from {catalog}.audit.publications").fetchone()
            for catalog in ("pwh", "analyst_warehouse")
        ]
        assert runs[0] == runs[1] and runs[0][0]


def test_published_files_modes_make_the_full_one_private(published):
    full, analyst = published
    assert stat.S_IMODE(full.stat().st_mode) == 0o640
    assert stat.S_IMODE(analyst.stat().st_mode) == 0o644


def test_query_reads_the_full_warehouse_only_with_a_role_allowed_to(sample_env, monkeypatch):
    runner = CliRunner()
    sql = "select email from marts.user_profiles where email is not null order by person_id"
    masked = runner.invoke(app, ["query", sql, "--format", "csv", "--role", "analyst"])
    full = runner.invoke(app, ["query", sql, "--format", "csv", "--role", "full"])
    assert runner.invoke(app, ["query", sql, "--format", "csv"]).stdout == full.stdout, "may read it: full"
    assert masked.exit_code == 0 and full.exit_code == 0, masked.output + full.output
    masked_emails = [row[0] for row in csv.reader(io.StringIO(masked.stdout))][1:]
    full_emails = [row[0] for row in csv.reader(io.StringIO(full.stdout))][1:]
    assert len(masked_emails) == len(full_emails) > 100
    assert all("@" in email for email in full_emails)
    assert not any("@" in email for email in masked_emails)
    raw = runner.invoke(app, ["query", "select count(*) from raw_crm.customers", "--role", "analyst"])
    assert raw.exit_code == 1 and "does not exist" in raw.output, "raw schemas are only in the full one"
    assert runner.invoke(app, ["query", "select 1", "--role", "admin"]).exit_code == 2
    # someone the full file's permissions leave out (tests may run as root, who reads any file)
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: Path(path) != sample_env.warehouse_path and real_access(path, mode)
    )
    assert runner.invoke(app, ["query", sql, "--format", "csv"]).stdout == masked.stdout


def test_query_says_why_when_the_role_cannot_read_its_file(sample_env, monkeypatch):
    refused = sample_env.warehouse_path
    real_access = os.access
    # tests may run as root, who reads any file: pretend the file's permissions leave this user out
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != refused and real_access(path, mode))
    runner = CliRunner()
    done = runner.invoke(app, ["query", "select 1", "--role", "full"])
    assert done.exit_code == 1
    assert "permission denied" in done.output and "--role full" in done.output
    assert runner.invoke(app, ["query", "select 1"]).exit_code == 0


def test_segment_exports_keep_the_contact_fields(sample_env, tmp_path):
    with duckdb.connect(str(sample_env.warehouse_path), read_only=True) as con:
        (segment,) = con.execute(
            "select segment_name from marts.segment_memberships group by 1 order by count(*) desc limit 1"
        ).fetchone()
    summary = export_segment(sample_env, segment, tmp_path / "out.csv", include_no_consent=True)
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as handle:
        emails = [row["email"] for row in csv.DictReader(handle) if row["email"]]
    assert summary.rows > 0 and emails and all("@" in email for email in emails)


# --- publish on small hand-made builds ----------------------------------------------------------------


def build_warehouse(settings, sql: str) -> Path:
    path = build_settings(settings).warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        con.execute(sql)
    return path


def test_a_mart_with_an_identifier_and_no_masking_view_stops_the_publish(settings):
    build_warehouse(settings, "create table marts.contacts as select 'ann@example.com' as email")
    with pytest.raises(PublishError, match=r"marts\.contacts has direct identifier column\(s\) email"):
        publish(settings, RUN_DATE, "run-1")
    assert not settings.warehouse_path.exists() and not settings.analyst_warehouse_path.exists()


def test_the_analyst_warehouse_keeps_an_admins_mode_and_the_full_one_never_opens_to_others(settings):
    build_warehouse(settings, "create table marts.numbers as select range as n from range(3)")
    publish(settings, RUN_DATE, "run-1")
    os.chmod(settings.warehouse_path, 0o644)  # e.g. published before issue 7
    os.chmod(settings.analyst_warehouse_path, 0o640)  # an admin limited analysts to a group
    publish(settings, RUN_DATE, "run-2")
    assert stat.S_IMODE(settings.warehouse_path.stat().st_mode) == 0o640
    assert stat.S_IMODE(settings.analyst_warehouse_path.stat().st_mode) == 0o640
    with duckdb.connect(str(settings.analyst_warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from marts.numbers").fetchone() == (3,)
        assert con.execute("select list(run_id order by run_id) from audit.publications").fetchone() == (
            ["run-1", "run-2"],
        )


def test_query_says_to_publish_when_only_the_full_warehouse_exists(settings, monkeypatch):
    build_warehouse(settings, "create table marts.numbers as select 1 as n")
    publish(settings, RUN_DATE, "run-1")
    settings.analyst_warehouse_path.unlink()  # published by a pwh from before the analyst warehouse
    done = CliRunner().invoke(app, ["query", "select 1", "--role", "analyst"])
    assert done.exit_code == 1 and "pwh publish" in done.output
