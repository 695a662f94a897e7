"""The theme definitions (`themes.yml`): theme names, seed words, the confidence threshold.

The file is versioned with the code; `load_themes` reads and checks it. A `ThemeConfig` can also be
built in code (tests do), e.g. `ThemeConfig((Theme("music", ("music", "concert")),), min_confidence=0.5)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from models_ml.themes.text import words

THEMES_FILE = Path(__file__).with_name("themes.yml")
UNKNOWN = "unknown"  # the theme of a page no theme is confident enough about


@dataclass(frozen=True)
class Theme:
    name: str
    seeds: tuple[str, ...]
    description: str = ""

    @property
    def seed_words(self) -> tuple[str, ...]:
        """The seeds as the classifier compares them: normalised words, each once, in order."""
        return tuple(dict.fromkeys(word for seed in self.seeds for word in words(seed)))


@dataclass(frozen=True)
class ThemeConfig:
    themes: tuple[Theme, ...]
    min_confidence: float = 0.4
    version: str = "unversioned"

    def __post_init__(self) -> None:
        names = [theme.name for theme in self.themes]
        if len(names) < 2:
            raise ValueError(f"define at least two themes (a page is scored against the others), got {names}")
        if len(set(names)) != len(names):
            raise ValueError(f"theme names must be unique: {names}")
        if UNKNOWN in names:
            raise ValueError(f"{UNKNOWN!r} is reserved for pages without a confident theme")
        for theme in self.themes:
            if not theme.seed_words:
                raise ValueError(f"theme {theme.name!r} has no seed words")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, not {self.min_confidence}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(theme.name for theme in self.themes)


def load_themes(path: str | Path = THEMES_FILE) -> ThemeConfig:
    """Read and check a themes file (format: see the comments in models_ml/themes/themes.yml)."""
    with Path(path).open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    unknown = set(raw) - {"version", "min_confidence", "themes"}
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    themes = []
    for entry in raw.get("themes") or []:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ValueError(f"{path}: every theme needs a name and seeds, got {entry!r}")
        themes.append(
            Theme(
                name=str(entry["name"]).strip().lower(),
                seeds=tuple(str(seed) for seed in entry.get("seeds") or ()),
                description=str(entry.get("description") or ""),
            )
        )
    return ThemeConfig(
        themes=tuple(themes),
        min_confidence=float(raw.get("min_confidence", ThemeConfig.min_confidence)),
        version=str(raw.get("version", ThemeConfig.version)),
    )
