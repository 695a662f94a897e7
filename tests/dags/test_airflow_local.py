"""`pwh airflow`: a real local Airflow on 127.0.0.1 with login, the DAG visible and triggerable by REST and CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pwh.airflow_local import admin_password, airflow_env

PWH = Path(sys.executable).parent / "pwh"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(url: str, data: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(data).encode() if data is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}


@pytest.fixture
def airflow(settings):
    port = free_port()
    log = settings.data_dir / "airflow.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [PWH, "airflow", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"pwh airflow exited: {log.read_text()[-3000:]}")
            try:
                status, health = request(f"{base}/api/v2/monitor/health")
                if status == 200 and health.get("metadatabase", {}).get("status") == "healthy":
                    break
            except OSError:
                pass
            time.sleep(2)
        else:
            pytest.fail(f"Airflow was not healthy within 240 s: {log.read_text()[-3000:]}")
        yield base, port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_local_airflow_needs_a_login_lists_the_dag_and_takes_triggers(airflow, settings):
    base, port = airflow
    assert airflow_env(settings, port)["AIRFLOW__API__HOST"] == "127.0.0.1"
    status, _ = request(f"{base}/api/v2/dags")
    assert status == 401, "no login, no API"

    password = admin_password(settings)
    assert password, "Airflow generated the admin password into the (git-ignored) data dir"
    status, login = request(f"{base}/auth/token", {"username": "admin", "password": password})
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
        env=airflow_env(settings, port), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    status, runs = request(f"{base}/api/v2/dags/pwh_nightly/dagRuns", token=token)
    assert status == 200 and runs["total_entries"] == 2
