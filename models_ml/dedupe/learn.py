"""Training: labelled pairs + a sample of records -> a dedupe settings file; and interactive labelling.

dedupe 3.0.3 learns two things from the labelled pairs: the pair classifier (logistic regression on
field distances) and the blocking rules (which records to compare at all). Blocking-rule search is the
part that can run for many minutes, so training always runs on a sample, without index predicates, and
in a child process that is stopped when its time budget runs out.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dedupe
import numpy as np

from models_ml.dedupe.features import Record, Records, make_fields, preprocess
from models_ml.dedupe.labels import read_training_pairs, write_training_pairs

__all__ = ["TrainingTimeout", "label_interactively", "training_sample", "train"]

log = logging.getLogger(__name__)


class TrainingTimeout(TimeoutError):
    """dedupe did not finish training within its time budget."""


def train(
    records: Records,
    training_pairs_path: Path,
    settings_path: Path,
    sample_size: int = 1500,
    time_budget_s: float = 300.0,
    seed: int = 0,
    recall: float = 1.0,
) -> Path:
    """Learn a settings file from the labelled pairs and a sample of records; returns settings_path.

    recall is the share of labelled matches the blocking rules must bring together. The settings file
    is replaced only when training succeeds; TrainingTimeout after time_budget_s seconds.
    """
    training_pairs_path, settings_path = Path(training_pairs_path), Path(settings_path)
    sample = training_sample(preprocess(records), read_training_pairs(training_pairs_path), sample_size, seed)
    tmp = settings_path.with_name(settings_path.name + ".tmp")
    settings_path.parent.mkdir(parents=True, exist_ok=True)
    log.info("training on %d records (budget %.0f s)", len(sample), time_budget_s)
    # spawn, not fork: the caller may hold DuckDB or Airflow threads, which fork does not copy safely
    process = multiprocessing.get_context("spawn").Process(
        target=_train_in_child,
        args=(sample, str(training_pairs_path), str(tmp), seed, recall, logging.getLogger().level),
        name="dedupe-train",
    )
    process.start()
    process.join(time_budget_s)
    if process.is_alive():
        process.terminate()
        process.join()
        tmp.unlink(missing_ok=True)
        raise TrainingTimeout(
            f"dedupe training took longer than {time_budget_s:g} s; try fewer match pairs or a smaller sample"
        )
    if process.exitcode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"dedupe training failed (exit code {process.exitcode}); see the log above")
    os.replace(tmp, settings_path)
    log.info("wrote %s", settings_path)
    return settings_path


def training_sample(
    data: Mapping[Any, Record], pairs: Mapping[str, list], sample_size: int, seed: int = 0
) -> dict[Any, Record]:
    """A random sample of data plus every labelled record (under new ids of the same type).

    dedupe only considers blocking rules that put at least two records of the sample together. In a small
    random sample of a big CRM almost no duplicates meet, so exact keys such as the phone number would
    never be candidates; adding the labelled records lets them be.
    """
    rng = random.Random(seed)
    keys = sorted(data)
    sample = {k: data[k] for k in rng.sample(keys, min(sample_size, len(keys)))}
    labelled = {
        json.dumps(record, sort_keys=True): record
        for label in ("match", "distinct")
        for pair in pairs[label]
        for record in pair
    }
    string_ids = bool(keys) and isinstance(keys[0], str)
    for n, record in enumerate(labelled.values(), start=1):
        sample[f"labelled-{n}" if string_ids else -n] = dict(record)
    return sample


def _train_in_child(
    sample: dict, training_pairs_path: str, out_path: str, seed: int, recall: float, log_level: int
) -> None:
    logging.basicConfig(level=log_level or logging.WARNING)
    random.seed(seed)  # dedupe samples with both random and numpy's global generator
    np.random.seed(seed)
    deduper = dedupe.Dedupe(make_fields(), num_cores=1)
    # a few hundred labelled pairs: a grid search in worker processes costs more than it saves
    deduper.classifier.set_params(n_jobs=1)
    with open(training_pairs_path) as f:
        deduper.prepare_training(sample, training_file=f)
    deduper.train(recall=recall, index_predicates=False)
    log.info("blocking rules: %s", deduper.predicates)
    with open(out_path, "wb") as f:
        deduper.write_settings(f)


def label_interactively(records: Records, training_path: Path, sample_size: int = 1500, seed: int = 0) -> int:
    """Label uncertain pairs at the console and add them to the training file; returns pairs added.

    For ``pwh dedupe label``: dedupe proposes the pairs it is least sure about, given the existing
    labels; (f)inished saves. Retrain afterwards to use the new labels.
    """
    training_path = Path(training_path)
    data = preprocess(records)
    existing = read_training_pairs(training_path) if training_path.exists() else {"match": [], "distinct": []}
    deduper = dedupe.Dedupe(make_fields(), num_cores=1)
    if training_path.exists():
        with open(training_path) as f:
            deduper.prepare_training(training_sample(data, existing, sample_size, seed), training_file=f)
    else:
        deduper.prepare_training(training_sample(data, existing, sample_size, seed))
    dedupe.console_label(deduper)
    # training_pairs holds the pairs read from the file followed by the new ones
    write_training_pairs(deduper.training_pairs, training_path)
    added = sum(len(deduper.training_pairs[k]) - len(existing[k]) for k in ("match", "distinct"))
    log.info("added %d labelled pairs to %s", added, training_path)
    return added
