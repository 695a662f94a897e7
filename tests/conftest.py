"""Shared fixtures: an isolated data dir per test, sample landing data made by `pwh generate`, and one
real `pwh run` over it that tests reading a built warehouse copy instead of running the pipeline again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pwh.settings import Settings, load_settings, quiet_telemetry
from tests.sample import SAMPLE, SAMPLE_RUN_DATE

quiet_telemetry()
os.environ.setdefault("PYTHONHASHSEED", "0")


# The modules whose tests use the one local Airflow (tests/dags/conftest.py): one worker runs them all.
AIRFLOW_MODULES = ("tests/browser/test_ui.py", "tests/dags/test_airflow_local.py")


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules with end-to-end runs (`slow`) first, so `make test`'s two workers finish together."""
    heavy = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in heavy)  # stable: the order within a module is kept
    for item in items:
        module = _module(item.nodeid)
        if "airflow" in item.fixturenames and module not in AIRFLOW_MODULES:
            raise pytest.UsageError(f"{item.nodeid} uses the local Airflow: add {module} to AIRFLOW_MODULES")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadscope` (`make test`), one module a worker so module fixtures are built once, and the
    AIRFLOW_MODULES on one worker, so one Airflow starts. (pytest-xdist's own `loadgroup` cannot group
    them: it renames node ids in a way pytest 9 ignores.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "airflow" if _module(nodeid) in AIRFLOW_MODULES else _module(nodeid)

    return ModuleScheduling(config, log)


def settings_for(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, landing_dir: Path | None = None
) -> Settings:
    for name in list(os.environ):
        if name.startswith("PWH_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PWH_DATA_DIR", str(data_dir))
    if landing_dir is not None:
        monkeypatch.setenv("PWH_LANDING_DIR", str(landing_dir))
    monkeypatch.chdir(data_dir.parent)  # no stray ./pwh.toml
    return load_settings()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose every path is inside this test's tmp dir (the landing zone starts empty)."""
    (tmp_path / "data").mkdir()
    return settings_for(tmp_path / "data", monkeypatch)


@pytest.fixture(scope="session")
def sample_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated landing zone, shared read-only by the tests that need realistic data."""
    from pwh.generate import generate

    landing = tmp_path_factory.mktemp("sample") / "landing"
    generate(landing, **SAMPLE)
    return landing


@pytest.fixture
def sample_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample_landing: Path) -> Settings:
    """Settings over a private copy of the sample landing zone (tests may add or change files)."""
    import shutil

    landing = tmp_path / "landing"
    shutil.copytree(sample_landing, landing)
    (tmp_path / "data").mkdir()
    return settings_for(tmp_path / "data", monkeypatch, landing)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory, sample_landing: Path) -> tuple[Path, str]:
    """The data dir of one `pwh run` of the sample (built once), and what the command printed."""
    root = tmp_path_factory.mktemp("sample_run")
    shutil.copytree(sample_landing, root / "landing")
    (root / "data").mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith("PWH_")}
    env |= {"PWH_DATA_DIR": str(root / "data"), "PWH_LANDING_DIR": str(root / "landing")}
    done = subprocess.run(
        [Path(sys.executable).parent / "pwh", "run", "--date", SAMPLE_RUN_DATE.isoformat()],
        env=env, cwd=root, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root / "data", done.stdout


@pytest.fixture
def sample_built(sample_settings: Settings, sample_run: tuple[Path, str]) -> tuple[Settings, str]:
    """sample_settings whose data dir holds a copy of the sample run's (landing files are the same), and
    that run's output: for tests that read or continue a built warehouse."""
    data_dir, stdout = sample_run
    shutil.copytree(data_dir, sample_settings.data_dir, dirs_exist_ok=True)
    return sample_settings, stdout
