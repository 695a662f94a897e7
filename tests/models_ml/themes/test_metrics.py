"""theme_metrics: accuracy, coverage and precision against known themes."""

import pytest

from models_ml.themes import UNKNOWN, theme_metrics


def test_unknown_counts_as_wrong_and_unseen_pages_are_not_evaluated():
    truth = {"/a": "music", "/b": "music", "/c": "travel", "/d": "travel", "/never-seen": "sport"}
    predicted = {"/a": "music", "/b": "travel", "/c": "travel", "/d": UNKNOWN, "/shop": "tech"}
    metrics = theme_metrics(predicted, truth)
    assert metrics.truth_pages == 5
    assert metrics.evaluated_pages == 4
    assert metrics.accuracy == pytest.approx(2 / 4)
    assert metrics.coverage == pytest.approx(3 / 4)
    assert metrics.precision == pytest.approx(2 / 3)
    assert metrics.accuracy == pytest.approx(metrics.coverage * metrics.precision)


def test_ratios_are_none_when_there_is_nothing_to_divide_by():
    metrics = theme_metrics({"/a": UNKNOWN}, {"/a": "music", "/b": "travel"})
    assert (metrics.accuracy, metrics.coverage, metrics.precision) == (0.0, 0.0, None)
    empty = theme_metrics({}, {"/a": "music"})
    assert empty.evaluated_pages == 0 and empty.accuracy is None and empty.coverage is None
