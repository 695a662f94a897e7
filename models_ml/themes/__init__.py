"""Page themes: which theme (music, travel, ...) a page is about, from its URL path and title.

    config = load_themes()                                 # models_ml/themes/themes.yml
    classifier = ThemeClassifier(config).fit(pages)        # pages: Page(path, title), no labels needed
    predictions = classifier.predict(pages)                # theme or "unknown", confidence, runner-up
    accuracy(predicted, truth)                             # metrics against known themes

`models_ml.page_themes` is the nightly step that reads pages from the warehouse and writes
`ml.page_theme_scores`; docs/themes.md explains how to add a theme or a manual rule.
"""

from models_ml.themes.classifier import Page, ThemeClassifier, ThemePrediction
from models_ml.themes.config import THEMES_FILE, UNKNOWN, Theme, ThemeConfig, load_themes
from models_ml.themes.metrics import ThemeMetrics, theme_metrics
from models_ml.themes.text import normalise_path, page_words, words

__all__ = [
    "THEMES_FILE",
    "UNKNOWN",
    "Page",
    "Theme",
    "ThemeClassifier",
    "ThemeConfig",
    "ThemeMetrics",
    "ThemePrediction",
    "load_themes",
    "normalise_path",
    "page_words",
    "theme_metrics",
    "words",
]
