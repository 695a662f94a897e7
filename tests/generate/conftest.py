"""One small generated landing zone shared by the generator tests (a few seconds to build)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import NamedTuple

import pytest

from pwh.generate import GenerateSummary, generate

ARGS = {"users": 300, "days": 3, "seed": 11, "start_date": dt.date(2026, 1, 1), "bad_share": 0.01}


class Generated(NamedTuple):
    landing: Path
    summary: GenerateSummary
    messages: list[str]


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    landing = tmp_path_factory.mktemp("generate") / "landing"
    messages: list[str] = []
    summary = generate(landing, **ARGS, progress=messages.append)
    return Generated(landing, summary, messages)


@pytest.fixture(scope="session")
def landing(generated: Generated) -> Path:
    return generated.landing
