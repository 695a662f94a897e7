"""The manual rules seed (dbt_project/seeds/page_theme_rules.csv) only uses themes that exist."""

import csv
from pathlib import Path

from models_ml.themes import UNKNOWN, load_themes

RULES = Path(__file__).resolve().parents[3] / "dbt_project" / "seeds" / "page_theme_rules.csv"


def test_rules_name_defined_themes_and_match_page_keys():
    with RULES.open(newline="") as handle:
        rules = list(csv.DictReader(handle))
    assert rules and set(rules[0]) == {"url_pattern", "theme", "priority", "description"}
    themes = {*load_themes().names, UNKNOWN}
    for rule in rules:
        pattern = rule["url_pattern"]
        assert rule["theme"] in themes, rule
        # page_url is a normalised path: lower case, starting with "/", no trailing slash, no query
        assert pattern == pattern.lower() and pattern[0] in "/%", rule
        assert "?" not in pattern and (pattern == "/" or not pattern.endswith("/")), rule
        assert int(rule["priority"]) >= 0 and rule["description"].strip(), rule
    patterns = [rule["url_pattern"] for rule in rules]
    assert len(patterns) == len(set(patterns))
