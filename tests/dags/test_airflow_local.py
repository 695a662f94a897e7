"""`pwh airflow`: a real local Airflow on 127.0.0.1 with login, the DAG visible and triggerable by REST and CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pwh.airflow_local import airflow_env
from pwh.orchestration import WAREHOUSE_POOL
from tests.dags.conftest import LocalAirflow, request  # the `airflow` fixture (shared with tests/browser)


def test_local_airflow_needs_a_login_lists_the_dag_and_takes_triggers(airflow: LocalAirflow):
    base, settings = airflow.base, airflow.settings
    assert airflow_env(settings, airflow.port)["AIRFLOW__API__HOST"] == "127.0.0.1"
    status, _ = request(f"{base}/api/v2/dags")
    assert status == 401, "no login, no API"

    status, login = request(f"{base}/auth/token", {"username": "admin", "password": airflow.password()})
    assert status in (200, 201), login
    token = login["access_token"]
    status, dags = request(f"{base}/api/v2/dags", token=token)
    assert status == 200 and [dag["dag_id"] for dag in dags["dags"]] == ["pwh_nightly"]
    status, pool = request(f"{base}/api/v2/pools/{WAREHOUSE_POOL}", token=token)
    assert status == 200 and pool["slots"] == 1, "one writer on the warehouse at a time"

    status, run = request(
        f"{base}/api/v2/dags/pwh_nightly/dagRuns", {"logical_date": "2026-01-14T00:00:00Z"}, token=token
    )
    assert status == 200, run
    done = subprocess.run(
        [Path(sys.executable).parent / "airflow", "dags", "trigger", "pwh_nightly"],
        env=airflow_env(settings, airflow.port), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    status, runs = request(f"{base}/api/v2/dags/pwh_nightly/dagRuns", token=token)
    assert status == 200 and runs["total_entries"] == 2


def test_celery_env_is_the_local_env_with_the_executor_databases_and_warehouse_queue(tmp_path, monkeypatch):
    from pwh.airflow_local import celery_env
    from pwh.settings import load_settings

    monkeypatch.setenv("PWH_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    home = tmp_path / "data" / "celery" / "airflow"
    env = celery_env(
        settings, home=home, port=8081,
        metadata_db="pwh_airflow:secret@127.0.0.1:5433/airflow", broker_url="redis://:secret@127.0.0.1:6380/0",
    )  # fmt: skip
    local = airflow_env(settings, 8081)
    assert {k: v for k, v in env.items() if k in local and k != "AIRFLOW_HOME"} == {
        k: v for k, v in local.items() if k != "AIRFLOW_HOME"
    }, "the PWH_* settings, dags folder, parallelism and 127.0.0.1 of `pwh airflow`, reused"
    assert env["AIRFLOW_HOME"] == str(home)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        == "postgresql+psycopg2://pwh_airflow:secret@127.0.0.1:5433/airflow"  # pragma: allowlist secret
    )
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8081/execution/"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["PWH_AIRFLOW_QUEUE"] == "pwh_warehouse"
