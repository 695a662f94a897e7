"""Accuracy against the generator's truth: the classifier on the truth pages directly (fast), and the
nightly step plus `evaluate` on a warehouse built by the real pipeline steps from the sample landing
zone (only the sources and dbt models pages come from, to keep the test short)."""

import datetime as dt

import pyarrow.parquet as pq
import pytest

from models_ml.page_themes import classify_pages, evaluate, read_truth
from models_ml.themes import UNKNOWN, Page, ThemeClassifier, load_themes, theme_metrics
from pwh.pipeline import dbt, ingest
from pwh.warehouse import connect
from tests.sample import SAMPLE_RUN_DATE

TARGET_ACCURACY = 0.90
# what classify_pages reads, with what those models need (fx_rates), built as `transform` builds them
PAGE_SOURCES = "+stg_logs__page_visits +stg_events__events"


def test_truth_pages_are_classified_from_their_paths_alone(sample_landing):
    """The access logs give paths only, no titles: every magazine article, classified by its path."""
    truth = pq.read_table(sample_landing / "_truth" / "pages.parquet").to_pylist()
    pages = [Page(row["path"]) for row in truth]
    predictions = ThemeClassifier(load_themes()).fit(pages).predict(pages)
    metrics = theme_metrics(
        {page.path: p.theme for page, p in zip(pages, predictions, strict=True)},
        {row["path"]: row["theme"] for row in truth},
    )
    assert metrics.evaluated_pages == len(truth)
    assert metrics.accuracy >= TARGET_ACCURACY, metrics
    assert metrics.precision >= 0.95, metrics


@pytest.mark.slow
def test_nightly_step_scores_every_seen_page_and_evaluate_records_accuracy(sample_settings):
    run_date: dt.date = SAMPLE_RUN_DATE
    ingest(sample_settings, run_date, "run-1", sources=("events", "logs"))
    dbt(sample_settings, run_date, "build", "--select", PAGE_SOURCES, "--indirect-selection", "cautious")

    summary = classify_pages(sample_settings, run_date, "run-1")
    with connect(sample_settings.warehouse_path, read_only=True) as con:
        rows = con.execute(
            "select page_url, theme, confidence, best_theme, second_theme, view_count, seen_in, run_id"
            " from ml.page_theme_scores"
        ).fetchall()
        log_pages = {
            path
            for (path,) in con.execute(
                "select distinct page_path from staging.stg_logs__page_visits"
                " where not is_bot and is_successful and not is_static_asset"
            ).fetchall()
        }
    assert summary.pages == len(rows) == len({row[0] for row in rows}), "one row per page"
    assert summary.themed_pages + summary.unknown_pages == summary.pages
    assert log_pages <= {row[0] for row in rows}
    assert "/robots.txt" not in {row[0] for row in rows}, "bots' requests are not pages"
    assert "/c/books" in {row[0] for row in rows}, "shop pages from the events are keyed by path"
    themes = {*load_themes().names, UNKNOWN}
    for _, theme, confidence, best, second, views, seen_in, run_id in rows:
        assert theme in themes and best != second and 0 <= confidence <= 1
        assert theme == UNKNOWN or theme == best
        assert views >= 0 and seen_in in ("logs", "events", "logs+events") and run_id == "run-1"

    evaluation = evaluate(sample_settings, "eval-1")
    metrics = evaluation.metrics
    truth = read_truth(sample_settings.landing_dir)
    assert metrics.truth_pages == len(truth)
    assert metrics.evaluated_pages == len(truth.keys() & {row[0] for row in rows})
    # The sample (300 people, 3 days) reads only about 350 of the 480 articles, so a few of a theme's
    # words are never on a page that names the theme and the model cannot learn them; accuracy here is
    # about 0.91, on few pages. The 0.90 target is asserted on the truth pages above and holds on the
    # default-size landing zone (2000 people, 14 days: every article read); this floor leaves room for
    # sampling noise.
    assert metrics.accuracy >= 0.85, metrics
    assert metrics.precision >= 0.95, metrics
    with connect(sample_settings.warehouse_path, read_only=True) as con:
        stored = con.execute("select run_id, scored_run_id, accuracy from ml.theme_evaluations").fetchall()
    assert stored == [("eval-1", "run-1", pytest.approx(metrics.accuracy))]
