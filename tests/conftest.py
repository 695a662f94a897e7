"""Shared fixtures: an isolated data dir per test, and sample landing data made by `pwh generate`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pwh.settings import Settings, load_settings, quiet_telemetry
from tests.sample import SAMPLE

quiet_telemetry()
os.environ.setdefault("PYTHONHASHSEED", "0")


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
