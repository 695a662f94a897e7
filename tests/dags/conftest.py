"""One real local Airflow (`pwh airflow`) for every test that needs it: started once, stopped early.

Starting `airflow standalone` takes about a minute and the running Airflow holds ~2 GB and parses the DAG
every so often, so the `airflow` fixture starts it on first use, and stops it as soon as the last test
that uses it has finished (not at the end of the session, when the rest of the suite would have shared
two cores with it). tests/browser/conftest.py re-exports the fixture: pytest then has one definition per
folder, and the module-level `_running` keeps it to one Airflow.
"""

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pwh.airflow_local import admin_password
from pwh.settings import Settings, load_settings

PWH = Path(sys.executable).parent / "pwh"
DAG_ID = "pwh_nightly"
START_TIMEOUT = 240  # seconds until healthy with the DAG parsed (~40-60 s seen here)


@dataclass
class LocalAirflow:
    base: str  # http://127.0.0.1:<port>
    port: int
    settings: Settings  # the data dir Airflow's home (and generated password) is under
    log: Path
    process: subprocess.Popen

    def password(self) -> str:
        password = admin_password(self.settings)
        assert password, "Airflow generated the admin password into the (git-ignored) data dir"
        return password

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


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


def start_airflow(root: Path) -> LocalAirflow:
    """`pwh airflow` with its data dir under `root`; returns once healthy with the DAG parsed."""
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    env = {name: value for name, value in os.environ.items() if not name.startswith("PWH_")}
    env |= {"PWH_DATA_DIR": str(data_dir), "PWH_LANDING_DIR": str(root / "landing")}
    with pytest.MonkeyPatch.context() as patch:  # the settings `pwh airflow` resolves, from its env and cwd
        for name in os.environ:
            if name.startswith("PWH_"):
                patch.delenv(name)
        patch.setenv("PWH_DATA_DIR", env["PWH_DATA_DIR"])
        patch.setenv("PWH_LANDING_DIR", env["PWH_LANDING_DIR"])
        patch.chdir(root)
        settings = load_settings()
    port = free_port()
    log = root / "airflow.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [PWH, "airflow", "--port", str(port)],
            env=env, cwd=root, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    airflow = LocalAirflow(f"http://127.0.0.1:{port}", port, settings, log, process)
    try:
        _wait_until_ready(airflow)
    except BaseException:
        airflow.stop()
        raise
    return airflow


def _wait_until_ready(airflow: LocalAirflow) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    token = None
    while time.monotonic() < deadline:
        if airflow.process.poll() is not None:
            pytest.fail(f"pwh airflow exited: {airflow.log.read_text()[-3000:]}")
        try:
            if token is None:
                status, health = request(f"{airflow.base}/api/v2/monitor/health")
                password = admin_password(airflow.settings)
                if status == 200 and health.get("metadatabase", {}).get("status") == "healthy" and password:
                    status, login = request(
                        f"{airflow.base}/auth/token", {"username": "admin", "password": password}
                    )
                    token = login.get("access_token")
            if token is not None:
                status, _ = request(f"{airflow.base}/api/v2/dags/{DAG_ID}", token=token)
                if status == 200:  # the DAG processor has parsed the DAG file
                    return
        except OSError:
            pass
        time.sleep(2)
    pytest.fail(
        f"Airflow was not healthy with {DAG_ID} parsed within {START_TIMEOUT} s: {airflow.log.read_text()[-3000:]}"
    )


_running: LocalAirflow | None = None


def _stop() -> None:
    global _running
    if _running is not None:
        _running.stop()
        _running = None


class _StopAfter:
    """A plugin that stops Airflow once `last` (the last collected test using it) has torn down."""

    def __init__(self, last: pytest.Item):
        self.last = last

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        if item is self.last:
            _stop()


@pytest.fixture(scope="session")
def airflow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalAirflow]:
    """A running local Airflow with pwh_nightly parsed: base URL, port, settings, admin password."""
    global _running
    if _running is None:
        _running = start_airflow(tmp_path_factory.mktemp("airflow"))
        users = [item for item in request.session.items if "airflow" in item.fixturenames]
        if users and not request.config.pluginmanager.has_plugin("pwh-stop-airflow"):
            request.config.pluginmanager.register(_StopAfter(users[-1]), "pwh-stop-airflow")
    yield _running
    _stop()
