"""Labelled pairs from the generator's truth, training from pairs, and the committed training files."""

from __future__ import annotations

import json
from pathlib import Path

import dedupe
import pytest

from models_ml.dedupe import (
    MODEL_FIELDS,
    SETTINGS,
    TRAINING_PAIRS,
    build_training_pairs,
    label_interactively,
    pairwise_precision_recall,
    preprocess,
    read_training_pairs,
    score,
    train,
    write_training_pairs,
)
from models_ml.dedupe.learn import training_sample


def test_training_pairs_from_truth(crm) -> None:
    pairs = build_training_pairs(crm.records, crm.truth, n_match=20, n_distinct=60, seed=3, noise_share=0)
    assert len(pairs["match"]) == 20
    assert len(pairs["distinct"]) == 60
    # the labels agree with the truth: find each preprocessed record's person again
    person = {json.dumps(r, sort_keys=True): crm.truth[i] for i, r in preprocess(crm.records).items()}

    def people(pair) -> set:
        return {person[json.dumps(record, sort_keys=True)] for record in pair}

    assert all(len(people(pair)) == 1 for pair in pairs["match"])
    assert all(len(people(pair)) == 2 for pair in pairs["distinct"])
    # hard negatives: distinct pairs that share a name or an address field
    assert any(
        a["last_name"] == b["last_name"] or a["postcode"] == b["postcode"] for a, b in pairs["distinct"]
    )
    assert build_training_pairs(crm.records, crm.truth, 20, 60, seed=3) == build_training_pairs(
        crm.records, crm.truth, 20, 60, seed=3
    )


def test_training_file_round_trip(crm, tmp_path: Path) -> None:
    pairs = build_training_pairs(crm.records, crm.truth, n_match=5, n_distinct=10)
    path = tmp_path / "pairs.json"
    write_training_pairs(pairs, path)
    assert read_training_pairs(path) == pairs
    with open(path) as f:  # dedupe's own reader takes it too
        assert dedupe.serializer.read_training(f) == pairs


def test_committed_training_pairs_are_in_dedupes_format() -> None:
    pairs = read_training_pairs(TRAINING_PAIRS)
    assert 0 < len(pairs["match"]) <= 95  # more would start the slow search (build_training_pairs)
    assert len(pairs["distinct"]) >= len(pairs["match"])
    for pair in pairs["match"] + pairs["distinct"]:
        assert len(pair) == 2
        assert all(set(record) == set(MODEL_FIELDS) for record in pair)


def test_training_sample_adds_the_labelled_records(crm) -> None:
    data = preprocess(crm.records)
    pairs = build_training_pairs(crm.records, crm.truth, n_match=5, n_distinct=10, noise_share=1)
    sample = training_sample(data, pairs, sample_size=100)
    labelled = [record for label in pairs.values() for pair in label for record in pair]
    assert 100 < len(sample) <= 100 + len(labelled)
    assert all(record in sample.values() for record in labelled)
    assert all(isinstance(key, int) for key in sample)  # one id type, as dedupe needs


def test_train_writes_settings_that_static_dedupe_loads(
    crm, small_training_file: Path, tmp_path: Path
) -> None:
    settings = tmp_path / "crm.settings"
    assert train(crm.records, small_training_file, settings, sample_size=300, time_budget_s=120) == settings
    with open(settings, "rb") as f:
        deduper = dedupe.StaticDedupe(f)
    assert deduper.predicates  # blocking rules were learned
    precision, recall = pairwise_precision_recall(score(crm.records, settings), crm.truth)
    assert precision > 0.8 and recall > 0.8  # a quick model from few pairs, still a working one


def test_training_over_budget_fails_and_keeps_the_old_settings(
    crm, small_training_file: Path, tmp_path: Path
) -> None:
    settings = tmp_path / "crm.settings"
    settings.write_bytes(SETTINGS.read_bytes())
    with pytest.raises(TimeoutError):
        train(crm.records, small_training_file, settings, sample_size=300, time_budget_s=0.5)
    assert settings.read_bytes() == SETTINGS.read_bytes()
    assert not list(tmp_path.glob("*.tmp"))


def test_label_interactively_appends_labels(
    crm, small_training_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # stands in for the console: labels the first pair dedupe is unsure about as a match
    def fake_console_label(deduper: dedupe.Dedupe) -> None:
        deduper.mark_pairs({"match": deduper.uncertain_pairs(), "distinct": []})

    monkeypatch.setattr(dedupe, "console_label", fake_console_label)
    before = read_training_pairs(small_training_file)
    assert label_interactively(crm.records[:300], small_training_file, sample_size=300) == 1
    after = read_training_pairs(small_training_file)
    assert after["distinct"] == before["distinct"]
    assert after["match"][: len(before["match"])] == before["match"]
    assert len(after["match"]) == len(before["match"]) + 1
