"""The segment feature catalogue, the person_features model and the themes agree (static checks)."""

from __future__ import annotations

from pathlib import Path

import yaml

from models_ml.themes.config import load_themes
from pwh.segments.features import DEFAULT_FEATURES, THEMES

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
NUMBER_TYPES = ("bigint", "integer", "float", "double", "decimal")
SQL_TYPES = {"number": NUMBER_TYPES, "text": ("varchar",), "boolean": ("boolean",)}


def model_columns(yml: str, model: str) -> list[dict]:
    models = yaml.safe_load((PROJECT_DIR / yml).read_text())["models"]
    return next(entry for entry in models if entry["name"] == model)["columns"]


def test_person_features_has_exactly_the_catalogue_features_with_their_types():
    columns = model_columns("models/marts/profiles/_profiles__models.yml", "person_features")
    assert sorted(column["name"] for column in columns) == sorted(DEFAULT_FEATURES)
    for column in columns:
        expected = SQL_TYPES[DEFAULT_FEATURES[column["name"]]]
        assert column["data_type"].startswith(expected), (column["name"], column["data_type"], expected)


def test_the_themes_are_the_same_everywhere():
    dbt_themes = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["themes"]
    assert tuple(dbt_themes) == THEMES == load_themes().names
