"""The nightly page-theme step: pages seen in the warehouse -> `ml.page_theme_scores`.

A page is what people looked at: a path requested in the access logs (`staging.stg_logs__page_visits`,
humans only: no bots, static assets or failed requests) or a page URL in the analytics events
(`staging.stg_events__events`). Its key `page_url` is the page_path both staging models share (dbt macro
page_path; `models_ml.themes.normalise_path` in Python): no scheme, host, query or fragment, lower case,
no trailing slash. So the article "/magazine/travel/lisbon-guide" and the shop page
"https://shop.example.com/c/books?sort=new" ("/c/books") are one row each, whichever source saw them.
Titles come from the events (the most frequent title of the page); log pages have none.

`classify_pages` fits the theme classifier (models_ml/themes) on every page seen so far, scores them and
replaces the table in one transaction: one row per page with its theme ('unknown' below the confidence
threshold of themes.yml), the runner-up theme, and how often the page was viewed. dbt applies the
manual rules of seeds/page_theme_rules.csv on top (marts.page_themes).

`evaluate` compares the scores with a generated landing zone's truth (`_truth/pages.parquet`, the theme
of every magazine article): accuracy, coverage and precision, kept in `ml.theme_evaluations`. The
nightly run itself never reads the truth.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from models_ml.themes import (
    THEMES_FILE,
    UNKNOWN,
    Page,
    ThemeClassifier,
    ThemeMetrics,
    load_themes,
    normalise_path,
    theme_metrics,
)
from pwh.settings import Settings
from pwh.warehouse import connect, replace_table, transaction

log = logging.getLogger(__name__)

PAGES_SQL = """
with log_pages as (
    select
        page_path as page_url,
        count(*) as view_count
    from staging.stg_logs__page_visits
    where not is_bot
        and is_successful
        and not coalesce(is_static_asset, false)
        and http_method = 'GET'
    group by page_path
),

event_rows as (
    select
        page_path as page_url,
        nullif(trim(page_title), '') as page_title,
        event_type in ('page_view', 'product_view') as is_view
    from staging.stg_events__events
    where page_path is not null
),

event_pages as (
    select
        page_url,
        sum(case when is_view then 1 else 0 end) as view_count
    from event_rows
    group by page_url
),

ranked_titles as (
    select
        page_url,
        page_title,
        row_number() over (partition by page_url order by count(*) desc, page_title) as title_rank
    from event_rows
    where page_title is not null
    group by page_url, page_title
),

final as (
    select
        coalesce(log_pages.page_url, event_pages.page_url) as page_url,
        ranked_titles.page_title,
        cast(coalesce(log_pages.view_count, 0) + coalesce(event_pages.view_count, 0) as bigint) as view_count,
        case
            when log_pages.page_url is null then 'events'
            when event_pages.page_url is null then 'logs'
            else 'logs+events'
        end as seen_in
    from log_pages
    full outer join event_pages
        on log_pages.page_url = event_pages.page_url
    left join ranked_titles
        on ranked_titles.page_url = coalesce(log_pages.page_url, event_pages.page_url)
        and ranked_titles.title_rank = 1
)

select * from final order by page_url
"""

SCHEMA = pa.schema(
    [
        ("page_url", pa.string()),
        ("page_title", pa.string()),
        ("theme", pa.string()),
        ("confidence", pa.float64()),
        ("best_theme", pa.string()),
        ("second_theme", pa.string()),
        ("second_confidence", pa.float64()),
        ("seed_theme", pa.string()),
        ("view_count", pa.int64()),
        ("seen_in", pa.string()),
        ("themes_version", pa.string()),
        ("run_id", pa.string()),
    ]
)

EVALUATIONS_DDL = """
create table if not exists ml.theme_evaluations (
    run_id varchar,
    scored_run_id varchar,
    themes_version varchar,
    truth_pages bigint,
    evaluated_pages bigint,
    accuracy double,
    coverage double,
    precision double
)
"""


@dataclass(frozen=True)
class ThemeSummary:
    pages: int
    themed_pages: int  # pages given a theme (not unknown)
    unknown_pages: int
    pages_by_theme: dict[str, int]  # theme -> pages, unknown included
    themes_version: str


@dataclass(frozen=True)
class ThemeEvaluation:
    run_id: str
    scored_run_id: str | None  # the run that wrote the evaluated scores
    themes_version: str | None
    metrics: ThemeMetrics


def pages(settings: Settings) -> pa.Table:
    """Every page seen so far: page_url (normalised path), page_title, view_count, seen_in."""
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(PAGES_SQL).arrow().read_all()


def score_pages(table: pa.Table, classifier: ThemeClassifier, run_id: str) -> pa.Table:
    """Fit the classifier on the pages of `table` (as `pages` returns it) and score them (SCHEMA)."""
    page_urls = table["page_url"].to_pylist()
    titles = table["page_title"].to_pylist()
    inputs = [Page(url, title) for url, title in zip(page_urls, titles, strict=True)]
    predictions = classifier.fit(inputs).predict(inputs)
    return pa.table(
        {
            "page_url": page_urls,
            "page_title": titles,
            "theme": [p.theme for p in predictions],
            "confidence": [p.confidence for p in predictions],
            "best_theme": [p.best_theme for p in predictions],
            "second_theme": [p.second_theme for p in predictions],
            "second_confidence": [p.second_confidence for p in predictions],
            "seed_theme": [p.seed_theme for p in predictions],
            "view_count": table["view_count"],
            "seen_in": table["seen_in"],
            "themes_version": [classifier.config.version] * len(inputs),
            "run_id": [run_id] * len(inputs),
        },
        schema=SCHEMA,
    )


def classify_pages(
    settings: Settings, run_date: dt.date, run_id: str, themes_path: Path | None = None
) -> ThemeSummary:
    """Score every page seen so far against the themes and publish `ml.page_theme_scores` for this run."""
    config = load_themes(themes_path or THEMES_FILE)
    seen = pages(settings)
    log.info("themes: %d pages to classify (themes version %s)", seen.num_rows, config.version)
    scores = score_pages(seen, ThemeClassifier(config), run_id)
    with connect(settings.warehouse_path) as con, transaction(con):
        replace_table(con, "ml.page_theme_scores", scores)
    by_theme = Counter(scores["theme"].to_pylist())
    unknown = by_theme.get(UNKNOWN, 0)
    log.info(
        "themes: %d pages, %d with a theme, %d unknown (%s)",
        scores.num_rows,
        scores.num_rows - unknown,
        unknown,
        ", ".join(f"{theme} {count}" for theme, count in sorted(by_theme.items())),
    )
    return ThemeSummary(
        pages=scores.num_rows,
        themed_pages=scores.num_rows - unknown,
        unknown_pages=unknown,
        pages_by_theme=dict(sorted(by_theme.items())),
        themes_version=config.version,
    )


def read_truth(landing_dir: Path) -> dict[str, str]:
    """The generator's truth: normalised path -> theme of every magazine article."""
    truth = pq.read_table(landing_dir / "_truth" / "pages.parquet", columns=["path", "theme"])
    return {
        normalise_path(path): theme
        for path, theme in zip(truth["path"].to_pylist(), truth["theme"].to_pylist(), strict=True)
    }


def evaluate(settings: Settings, run_id: str) -> ThemeEvaluation:
    """Accuracy, coverage and precision of the published page themes against the landing zone's truth."""
    truth = read_truth(settings.landing_dir)
    with connect(settings.warehouse_path) as con:
        rows = con.execute(
            "select page_url, theme, run_id, themes_version from ml.page_theme_scores"
        ).fetchall()
        metrics = theme_metrics({page: theme for page, theme, _, _ in rows}, truth)
        scored_run_id = rows[0][2] if rows else None
        themes_version = rows[0][3] if rows else None
        con.execute(EVALUATIONS_DDL)
        con.execute(
            "insert into ml.theme_evaluations values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                scored_run_id,
                themes_version,
                metrics.truth_pages,
                metrics.evaluated_pages,
                metrics.accuracy,
                metrics.coverage,
                metrics.precision,
            ],
        )
    log.info(
        "themes: accuracy %s, coverage %s over %d of %d truth pages",
        _percent(metrics.accuracy),
        _percent(metrics.coverage),
        metrics.evaluated_pages,
        metrics.truth_pages,
    )
    return ThemeEvaluation(run_id, scored_run_id, themes_version, metrics)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
