"""Build the dbt project for real on a small raw warehouse and check what it produces.

One `dbt build` (seeds, models, data tests, unit tests) runs once for the module on the fixture rows of
conftest.py; the tests then read the built DuckDB file. Runs that must change the data (an unbalanced
audit row, another reporting currency) work on a copy, so they cannot disturb the shared build. A second
build runs on a warehouse where only the CRM delivered data (the other raw tables do not exist).
Every dbt run writes its target/ and logs/ under tmp_path, so parallel runs do not clash.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pwh.pipeline import DBT_WAREHOUSE_VARIABLE

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
RUN_DATE = "2024-03-31"


def _dbt_executable() -> str:
    beside_python = Path(sys.executable).with_name("dbt")
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("dbt")
    if found is None:
        pytest.fail("dbt is not installed in this environment (it is a project dependency)")
    return found


@dataclass
class DbtRun:
    returncode: int
    output: str
    run_results: dict

    def status_of(self, node_name: str) -> str:
        """Status of the one result whose unique_id ends with `.node_name`."""
        matches = [
            result["status"]
            for result in self.run_results["results"]
            if result["unique_id"].split(".")[-1] == node_name
        ]
        assert len(matches) == 1, f"expected one result for {node_name}, got {matches}"
        return matches[0]


def run_dbt(args: list[str], warehouse: Path, work_dir: Path) -> DbtRun:
    """Run dbt in a subprocess against `warehouse`, with target/ and logs/ inside `work_dir`."""
    target_path = work_dir / "target"
    env = {
        **os.environ,
        DBT_WAREHOUSE_VARIABLE: str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    if (
        "--vars" not in args
    ):  # models with windows need the run's logical date; the fixture rows are from March 2024
        args = [*args, "--vars", json.dumps({"run_date": RUN_DATE})]
    completed = subprocess.run(
        [
            _dbt_executable(),
            *args,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(target_path),
            "--log-path",
            str(work_dir / "logs"),
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    results_file = target_path / "run_results.json"
    run_results = json.loads(results_file.read_text()) if results_file.exists() else {"results": []}
    return DbtRun(completed.returncode, completed.stdout + completed.stderr, run_results)


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, raw_data) -> tuple[Path, DbtRun]:
    work_dir = tmp_path_factory.mktemp("dbt_build")
    warehouse = raw_data.create_warehouse(work_dir / "warehouse.duckdb")
    run = run_dbt(["build"], warehouse, work_dir)
    assert run.returncode == 0, run.output
    return warehouse, run


@pytest.fixture(scope="module")
def warehouse(built: tuple[Path, DbtRun]) -> Path:
    return built[0]


def test_build_runs_every_kind_of_node(built: tuple[Path, DbtRun]) -> None:
    _, run = built
    statuses = {result["unique_id"]: result["status"] for result in run.run_results["results"]}
    assert statuses, "dbt build produced no results"
    assert all(status in ("success", "pass") for status in statuses.values()), statuses
    kinds = {unique_id.split(".")[0] for unique_id in statuses}
    assert {"seed", "model", "test", "unit_test"} <= kinds
    assert run.status_of("assert_load_audit_is_balanced") == "pass"


def test_schemas_are_used_as_named(warehouse: Path) -> None:
    relations = set(query(warehouse, "select table_schema, table_name from information_schema.tables"))
    assert ("staging", "stg_crm__customers") in relations
    assert ("intermediate", "int_order_items_converted") in relations
    assert ("marts", "daily_activity") in relations
    assert ("marts", "load_audit") in relations
    assert ("seeds", "fx_rates") in relations
    kinds = dict(
        query(
            warehouse,
            """
        select table_schema || '.' || table_name, table_type from information_schema.tables
        where table_schema in ('staging', 'marts')
    """,
        )
    )
    assert kinds["staging.stg_events__events"] == "VIEW"
    assert kinds["marts.daily_activity"] == "BASE TABLE"


def test_customer_contact_details_are_normalised(warehouse: Path) -> None:
    rows = query(
        warehouse,
        """
        select customer_id, email, first_name, last_name, phone, country_code,
               cast(created_at as varchar)
        from staging.stg_crm__customers
        order by customer_id
    """,
    )
    assert rows == [
        (1, "alice.smith@example.com", "Alice", "Smith", "+442079460958", "GB", "2024-01-01 08:00:00"),
        (2, None, "Bob", "O'Neil-Jones", "+442079460958", "GB", "2024-01-02 09:00:00"),
        (3, "carol@example.org", "Carol Ann", "De La Cruz", "+442079460958", "GB", "2024-01-03 09:00:00"),
        (4, "dave@example.com", "Dave", "Miller", "+15551234567", "US", "2024-01-04 14:00:00"),
        (5, "erik@example.se", "Erik", "Andersson", "+46701234567", "SE", "2024-01-05 08:00:00"),
        (6, None, None, None, None, None, "2024-01-06 09:00:00"),
    ]


def test_timestamps_are_plain_utc_timestamps(warehouse: Path) -> None:
    types = dict(
        query(
            warehouse,
            """
        select column_name, data_type from information_schema.columns
        where table_schema = 'staging' and table_name = 'stg_events__events'
    """,
        )
    )
    assert types["occurred_at"] == "TIMESTAMP"
    assert types["event_date"] == "DATE"
    # e7 happened at 23:30 on 1 March at -02:00, which is 2 March in UTC
    assert query(
        warehouse,
        """
        select cast(occurred_at as varchar), event_date from staging.stg_events__events where event_id = 'e7'
    """,
    ) == [("2024-03-02 01:30:00", datetime.date(2024, 3, 2))]


def test_order_totals_are_converted_to_the_reporting_currency(warehouse: Path) -> None:
    rows = query(
        warehouse,
        """
        select order_id, currency, total_amount_eur from staging.stg_crm__orders order by order_id
    """,
    )
    assert rows == [
        (101, "EUR", Decimal("50")),
        (102, "USD", Decimal("100")),
        (103, "SEK", Decimal("10")),
        (104, "GBP", Decimal("50")),
    ]
    line_amounts = query(
        warehouse,
        """
        select order_item_id is not null, line_amount_eur
        from intermediate.int_order_items_converted where order_id = 102
    """,
    )
    assert line_amounts == [(True, Decimal("100"))]


def test_events_emails_are_normalised(warehouse: Path) -> None:
    emails = dict(
        query(
            warehouse,
            """
        select event_id, email from staging.stg_events__events where email is not null
    """,
        )
    )
    assert emails == {"e2": "alice.smith@example.com", "e8": "dave@example.com"}


def test_page_paths_are_normalised_and_bots_flagged(warehouse: Path) -> None:
    rows = query(
        warehouse,
        """
        select line_number, page_path, is_bot from staging.stg_logs__page_visits order by line_number
    """,
    )
    assert rows == [
        (1, "/magazine/cooking/easy-pasta", False),
        (2, "/magazine/travel/lisbon", True),
        (3, "/", True),
    ]


def test_product_tags_are_kept_and_normalised(warehouse: Path) -> None:
    rows = query(
        warehouse,
        """
        select product_id, tags, tags_normalized from staging.stg_catalog__products order by product_id
    """,
    )
    assert rows == [
        ("P1", " Cooking | Italian||Kitchen ", "cooking|italian|kitchen"),
        ("P2", "Running|OUTDOOR", "running|outdoor"),
        ("P3", None, None),
    ]


def test_daily_activity_matches_hand_computed_figures(warehouse: Path) -> None:
    rows = query(
        warehouse,
        """
        select
            cast(activity_date as varchar), channel, event_count, distinct_anonymous_ids,
            distinct_logged_in_users, page_views, product_views, add_to_carts, purchases, revenue,
            revenue_currency
        from marts.daily_activity
        order by activity_date, channel
    """,
    )
    assert rows == [
        ("2024-03-01", "android", 1, 1, 1, 0, 0, 0, 0, Decimal("0.00"), "EUR"),
        # 2 x 25 EUR + 1 x 43 GBP (= 50 EUR)
        ("2024-03-01", "web", 6, 3, 2, 2, 1, 1, 2, Decimal("100.00"), "EUR"),
        # 2 x 54 USD (= 100 EUR); the page view at 23:30 -02:00 belongs to 2 March UTC
        ("2024-03-02", "ios", 2, 1, 1, 1, 0, 0, 1, Decimal("100.00"), "EUR"),
        ("2024-03-02", "server", 1, 1, 0, 0, 0, 0, 0, Decimal("0.00"), "EUR"),
    ]


def test_load_audit_mart_flags_balance(warehouse: Path) -> None:
    rows = query(
        warehouse,
        """
        select source, table_name, load_ids, files_read, rows_read, rows_loaded, rows_quarantined,
               duration_seconds, is_balanced
        from marts.load_audit order by source, table_name
    """,
    )
    assert ("events", "events", "load-1", 1, 11, 10, 1, 10, True) in rows
    assert len(rows) == 6
    assert all(row[-1] for row in rows)


def test_quarantined_lines_keep_their_load(warehouse: Path) -> None:
    for source in ("events", "logs", "catalog"):
        rows = query(warehouse, f"select load_id, reason from staging.stg_{source}__quarantined_lines")
        assert len(rows) == 1 and rows[0][0] == "load-1", (source, rows)


def test_unbalanced_audit_row_fails_the_build(warehouse: Path, tmp_path: Path, raw_data) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, copy)
    raw_data.add_unbalanced_audit_row(copy)

    run = run_dbt(["build", "--select", "stg_audit__load_audits+"], copy, tmp_path)

    assert run.returncode != 0, run.output
    assert run.status_of("assert_load_audit_is_balanced") == "fail"
    failing = [
        result
        for result in run.run_results["results"]
        if result["unique_id"].endswith(".assert_load_audit_is_balanced")
    ]
    assert failing[0]["failures"] == 1
    assert query(copy, "select run_id, is_balanced from marts.load_audit where run_id = 'r2'") == [
        ("r2", False)
    ]


def test_reporting_currency_is_a_var(warehouse: Path, tmp_path: Path) -> None:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(warehouse, copy)

    run = run_dbt(
        [
            "run",
            "--select",
            "stg_crm__orders",
            "stg_events__events",
            "daily_activity",
            "--vars",
            "{reporting_currency: GBP}",
        ],
        copy,
        tmp_path,
    )

    assert run.returncode == 0, run.output
    assert query(copy, "select total_amount_gbp from staging.stg_crm__orders where order_id = 102") == [
        (Decimal("86"),)
    ]
    assert query(
        copy,
        """
        select revenue, revenue_currency from marts.daily_activity
        where activity_date = date '2024-03-02' and channel = 'ios'
    """,
    ) == [(Decimal("86.00"), "GBP")]


def test_docs_generate_documents_every_model(warehouse: Path, tmp_path: Path) -> None:
    run = run_dbt(["docs", "generate"], warehouse, tmp_path)

    assert run.returncode == 0, run.output
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    models = {key: node for key, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    assert set(models) <= set(catalog["nodes"])
    for key, node in models.items():
        assert "one row per" in node["description"].lower(), f"{key} does not state its grain"
        built_columns = {name.lower() for name in catalog["nodes"][key]["columns"]}
        assert set(node["columns"]) == built_columns, f"{key}: documented columns differ from built ones"


def test_declared_source_columns_match_the_raw_tables(built: tuple[Path, DbtRun], tmp_path: Path) -> None:
    """The data_type of every source column (the raw contract, also used for missing tables) is the real one."""
    warehouse, _ = built
    run = run_dbt(["parse"], warehouse, tmp_path)
    assert run.returncode == 0, run.output
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())

    def normalised(data_type: str) -> str:
        return data_type.upper().replace(" ", "")

    loaded = ("raw_crm", "raw_events", "raw_logs", "raw_catalog", "audit")  # ml tables: tests/e2e
    declared = {
        (source["schema"], source["name"], column["name"], normalised(column["data_type"] or ""))
        for source in manifest["sources"].values()
        for column in source["columns"].values()
        if source["schema"] in loaded
    }
    actual = {
        (schema, table, column, normalised(data_type))
        for schema, table, column, data_type in query(
            warehouse,
            f"""
            select table_schema, table_name, column_name, data_type from information_schema.columns
            where table_schema in {loaded}
        """,
        )
    }
    assert declared == actual


@pytest.fixture(scope="module")
def crm_only(tmp_path_factory: pytest.TempPathFactory, raw_data) -> tuple[Path, DbtRun]:
    """A build over a landing zone that held only the CRM: no raw_events, raw_logs or raw_catalog tables."""
    work_dir = tmp_path_factory.mktemp("dbt_build_crm_only")
    warehouse = raw_data.create_warehouse(work_dir / "warehouse.duckdb", sources=("crm",))
    return warehouse, run_dbt(["build"], warehouse, work_dir)


def test_missing_sources_still_build(crm_only: tuple[Path, DbtRun], built: tuple[Path, DbtRun]) -> None:
    _, run = crm_only
    assert run.returncode == 0, run.output
    statuses = {result["unique_id"]: result["status"] for result in run.run_results["results"]}
    assert all(status in ("success", "pass") for status in statuses.values()), statuses
    # unit tests mock every source, so they all run and pass whatever the warehouse holds
    unit_tests = {unique_id for unique_id in statuses if unique_id.startswith("unit_test.")}
    full_build = {result["unique_id"] for result in built[1].run_results["results"]}
    assert unit_tests == {unique_id for unique_id in full_build if unique_id.startswith("unit_test.")}
    assert len(unit_tests) >= 3


def test_missing_sources_give_empty_staging_and_marts(crm_only: tuple[Path, DbtRun]) -> None:
    warehouse, _ = crm_only
    kinds = dict(
        query(
            warehouse,
            """
        select table_name, table_type from information_schema.tables where table_schema = 'staging'
    """,
        )
    )
    for model in (
        "stg_events__events",
        "stg_events__quarantined_lines",
        "stg_logs__page_visits",
        "stg_logs__quarantined_lines",
        "stg_catalog__products",
        "stg_catalog__quarantined_lines",
    ):
        assert kinds.get(model) == "VIEW", model
        assert query(warehouse, f"select count(*) from staging.{model}") == [(0,)], model
    assert query(warehouse, "select count(*) from marts.daily_activity") == [(0,)]
    # the sources that did deliver are built as usual
    assert query(warehouse, "select count(*) from staging.stg_crm__customers") == [(6,)]
    assert query(warehouse, "select count(*) from marts.load_audit where is_balanced") == [(3,)]


def test_missing_sources_keep_their_column_types(warehouse: Path, crm_only: tuple[Path, DbtRun]) -> None:
    """An empty stand-in has the raw table's types, so staging and marts have the same shape either way."""
    shape = """
        select table_schema, table_name, column_name, data_type from information_schema.columns
        where table_schema in ('staging', 'intermediate', 'marts')
    """
    assert set(query(crm_only[0], shape)) == set(query(warehouse, shape))
