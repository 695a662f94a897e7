"""score_pages: the rows the nightly step writes to ml.page_theme_scores, from a table of pages."""

import pyarrow as pa

from models_ml.page_themes import SCHEMA, score_pages
from models_ml.themes import UNKNOWN, ThemeClassifier
from tests.models_ml.themes.test_classifier import CONFIG, PAGES


def test_score_pages_writes_one_typed_row_per_page():
    pages = pa.table(
        {
            "page_url": [page.path for page in PAGES],
            "page_title": [page.title for page in PAGES],
            "view_count": pa.array(range(len(PAGES)), pa.int64()),
            "seen_in": ["logs"] * len(PAGES),
        }
    )
    scores = score_pages(pages, ThemeClassifier(CONFIG), "run-1")
    assert scores.schema == SCHEMA
    rows = {row["page_url"]: row for row in scores.to_pylist()}
    assert len(rows) == len(PAGES)
    jazz = rows["/blog/en/jazz-records"]
    assert (jazz["theme"], jazz["seed_theme"], jazz["themes_version"], jazz["run_id"]) == (
        "music",
        None,
        "test",
        "run-1",
    )
    assert rows["/blog/de/musik/jazz-im-konzert"]["seed_theme"] == "music"
    account = rows["/account/settings"]
    assert account["theme"] == UNKNOWN and account["best_theme"] in CONFIG.names
    assert account["page_title"] == "Account settings" and account["view_count"] == len(PAGES) - 1


def test_no_pages_no_rows():
    empty = pa.table(
        {"page_url": [], "page_title": [], "view_count": [], "seen_in": []},
        schema=pa.schema(
            [
                ("page_url", pa.string()),
                ("page_title", pa.string()),
                ("view_count", pa.int64()),
                ("seen_in", pa.string()),
            ]
        ),
    )
    scores = score_pages(empty, ThemeClassifier(CONFIG), "run-1")
    assert scores.num_rows == 0 and scores.schema == SCHEMA
