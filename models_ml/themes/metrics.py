"""How well predicted page themes match known ones (e.g. the generator's truth): pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from models_ml.themes.config import UNKNOWN


@dataclass(frozen=True)
class ThemeMetrics:
    truth_pages: int  # pages whose theme is known
    evaluated_pages: int  # of those, pages that have a prediction (were seen and scored)
    accuracy: float | None  # share of evaluated pages predicted right; unknown counts as wrong (0..1)
    coverage: float | None  # share of evaluated pages given a theme rather than unknown (0..1)
    precision: float | None  # share of the pages given a theme that got the right one (0..1)


def theme_metrics(predicted: Mapping[str, str], truth: Mapping[str, str]) -> ThemeMetrics:
    """Compare predicted themes (page -> theme or UNKNOWN) with true ones (page -> theme).

    Only pages in both are evaluated: a page nobody visited has no prediction, which says nothing about
    the model. Ratios are None when there is nothing to divide by. accuracy = coverage x precision.
    """
    evaluated = [page for page in truth if page in predicted]
    covered = [page for page in evaluated if predicted[page] != UNKNOWN]
    correct = sum(1 for page in covered if predicted[page] == truth[page])

    def ratio(numerator: int, denominator: int) -> float | None:
        return numerator / denominator if denominator else None

    return ThemeMetrics(
        truth_pages=len(truth),
        evaluated_pages=len(evaluated),
        accuracy=ratio(correct, len(evaluated)),
        coverage=ratio(len(covered), len(evaluated)),
        precision=ratio(correct, len(covered)),
    )
