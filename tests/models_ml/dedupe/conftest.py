"""A small generated CRM with known duplicates, shared by the dedupe tests (about two seconds to build)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from models_ml.dedupe import read_crm, read_truth

# a seed the committed model was not trained on (it was trained on REFERENCE_DATA, seed 11)
CRM_ARGS = {"users": 1500, "days": 1, "seed": 7}


class Crm(NamedTuple):
    records: list[dict]
    truth: dict[int, int]  # customer_id -> person_id


@pytest.fixture(scope="session")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Crm:
    from pwh.generate import generate

    landing = tmp_path_factory.mktemp("dedupe") / "landing"
    generate(landing, **CRM_ARGS)
    return Crm(read_crm(landing / "crm.sqlite"), read_truth(landing))


@pytest.fixture
def small_training_file(tmp_path: Path) -> Path:
    """The first labelled pairs of the committed file: enough to train on, quick to train."""
    from models_ml.dedupe import TRAINING_PAIRS, read_training_pairs, write_training_pairs

    pairs = read_training_pairs(TRAINING_PAIRS)
    path = tmp_path / "pairs.json"
    write_training_pairs({"match": pairs["match"][:30], "distinct": pairs["distinct"][:90]}, path)
    return path
