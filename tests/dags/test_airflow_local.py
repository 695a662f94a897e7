"""`pwh airflow`: a real local Airflow on 127.0.0.1 with login, the DAG visible and triggerable by REST and CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pwh.airflow_local import airflow_env
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
