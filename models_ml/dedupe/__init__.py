"""Probabilistic deduplication of CRM customers with dedupe 3: which customer records are one person.

The nightly run scores with the committed settings and never trains:

    rows = score(records, SETTINGS)          # [(customer_id, cluster_id, confidence), ...]

records are CRM customer rows (a pyarrow Table or dicts) with customer_id, first_name, last_name, email,
phone, birth_date, street_address, postcode and city: raw ``crm.sqlite`` rows or the cleaned
``staging.stg_crm__customers`` rows, which `preprocess` maps to the same values.

Committed model (``training/``):
- ``crm_training.json``: labelled pairs in dedupe's format, bootstrapped from the sample generator's
  truth (`bootstrap_training_pairs`) and extended by hand (`label_interactively`, ``pwh dedupe label``);
- ``crm.settings``: what dedupe learned from them (`retrain` rebuilds it).

Modules: ``features`` (the one preprocessing function, variable definitions), ``labels`` (labelled
pairs), ``learn`` (training, labelling), ``scoring`` (scoring, pairwise metrics).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from models_ml.dedupe.features import FIELDS, MODEL_FIELDS, Record, Records, make_fields, preprocess
from models_ml.dedupe.labels import (
    TrainingPairs,
    build_training_pairs,
    read_crm,
    read_training_pairs,
    read_truth,
    write_training_pairs,
)
from models_ml.dedupe.learn import TrainingTimeout, label_interactively, train
from models_ml.dedupe.scoring import DEFAULT_THRESHOLD, pairwise_precision_recall, score

__all__ = [
    "DEFAULT_THRESHOLD", "FIELDS", "MODEL_FIELDS", "REFERENCE_DATA", "SETTINGS", "TRAINING_PAIRS", "Record",
    "Records", "TrainingPairs", "TrainingTimeout", "bootstrap_training_pairs", "build_training_pairs",
    "label_interactively", "make_fields", "pairwise_precision_recall", "preprocess", "read_crm",
    "read_training_pairs", "read_truth", "retrain", "score", "train", "write_training_pairs",
]  # fmt: skip

log = logging.getLogger(__name__)

TRAINING_DIR = Path(__file__).parent / "training"
TRAINING_PAIRS = TRAINING_DIR / "crm_training.json"
SETTINGS = TRAINING_DIR / "crm.settings"
# the generated population the committed pairs and settings were made from (`pwh generate` arguments);
# benchmarks and tests use other seeds, so they measure on people the model has not seen
REFERENCE_DATA = {"users": 20000, "days": 1, "seed": 11}
# what the committed pairs were built with (see build_training_pairs on why no more than 95 matches)
PAIRS_OPTIONS = {"n_match": 90, "n_distinct": 360, "seed": 2, "noise_share": 0.5}


def bootstrap_training_pairs(path: Path = TRAINING_PAIRS) -> TrainingPairs:
    """Rebuild the labelled pairs from generated REFERENCE_DATA (overwrites hand-labelled pairs in path)."""
    with tempfile.TemporaryDirectory() as tmp:
        records, truth = _reference(Path(tmp))
        pairs = build_training_pairs(records, truth, **PAIRS_OPTIONS)
    write_training_pairs(pairs, path)
    return pairs


def retrain(
    records: Records | None = None,
    training_pairs_path: Path = TRAINING_PAIRS,
    settings_path: Path = SETTINGS,
    sample_size: int = 1500,
    time_budget_s: float = 600.0,
    seed: int = 0,
) -> Path:
    """Rebuild the settings file from the labelled pairs and a sample of records.

    records: the CRM customers to sample from (e.g. the warehouse's staging rows); None uses the
    generated REFERENCE_DATA. Check the result with benchmarks/dedupe_crm.py before committing it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        if records is None:
            records, _ = _reference(Path(tmp))
        return train(records, training_pairs_path, settings_path, sample_size, time_budget_s, seed)


def _reference(folder: Path) -> tuple[list[dict], dict[int, int]]:
    from pwh.generate import generate  # only here: scoring does not need the generator

    generate(folder / "landing", **REFERENCE_DATA)
    return read_crm(folder / "landing" / "crm.sqlite"), read_truth(folder / "landing")
