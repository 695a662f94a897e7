"""Fixtures for the quality gates: a warehouse built by the real pipeline steps, and copies to corrupt.

The warehouse is the one the session's `pwh run` of the sample published (tests/conftest.py
sample_run, made once); tests that change the warehouse work on a copy of its file.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from pwh.settings import Settings, load_settings


@pytest.fixture(scope="session")
def built_settings(sample_run: tuple[Path, str]) -> Settings:
    """Settings of the warehouse the session's one `pwh run` of the sample published (tests/conftest.py)."""
    data_dir, _ = sample_run
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name in list(os.environ):
            if name.startswith("PWH_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("PWH_DATA_DIR", str(data_dir))
        monkeypatch.setenv("PWH_LANDING_DIR", str(data_dir.parent / "landing"))
        monkeypatch.chdir(data_dir.parent)  # no stray ./pwh.toml
        return load_settings()


@pytest.fixture(scope="session")
def built_run_id(built_settings: Settings) -> str:
    """The run id of that run."""
    with duckdb.connect(str(built_settings.warehouse_path), read_only=True) as con:
        (run_id,) = con.execute("select distinct run_id from audit.load_audit").fetchone()
    return run_id


@pytest.fixture
def warehouse_copy(built_settings: Settings, tmp_path: Path) -> Callable[[], Settings]:
    """Settings over a private copy of the built warehouse (and a private data dir for the data docs)."""

    def make() -> Settings:
        path = tmp_path / "warehouse" / built_settings.warehouse_path.name
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built_settings.warehouse_path, path)
        (tmp_path / "data").mkdir(exist_ok=True)
        return dataclasses.replace(built_settings, warehouse_path=path, data_dir=tmp_path / "data")

    return make
