"""themes.yml: the committed definitions load, and broken ones are refused."""

import pytest

from models_ml.themes import THEMES_FILE, UNKNOWN, Theme, ThemeConfig, load_themes
from models_ml.themes.text import matches_seed
from pwh.generate import vocab


def test_the_committed_themes_load():
    config = load_themes()
    assert set(vocab.THEMES) <= set(config.names), "every theme of the sample data is defined"
    assert 0 < config.min_confidence < 1
    assert config.version and config.version != "unversioned"
    for theme in config.themes:
        assert 5 <= len(theme.seed_words) <= 20, theme.name
        assert theme.description, theme.name


def test_seed_words_are_not_the_generators_vocabulary():
    """The seeds are what a person would write for a theme, not the sample generator's word lists: the
    model must learn those words from the pages, or the accuracy against the truth would mean nothing."""
    for theme in load_themes().themes:
        generated = {word for phrase in vocab.THEME_WORDS[theme.name] for word in phrase.split("-")}
        shared = {word for word in generated if any(matches_seed(word, seed) for seed in theme.seed_words)}
        assert len(shared) <= 3, f"{theme.name}: {sorted(shared)}"


def test_seed_words_are_normalised():
    theme = Theme("sport", ("Fußball", "Fútbol", "fussball", "Team-Sport"))
    assert theme.seed_words == ("fussball", "futbol", "team", "sport")


def _write(tmp_path, text):
    path = tmp_path / "themes.yml"
    path.write_text(text)
    return path


def test_load_themes_reads_names_seeds_threshold_and_version(tmp_path):
    config = load_themes(
        _write(
            tmp_path,
            """
version: "7"
min_confidence: 0.6
themes:
  - name: Music
    seeds: [music, konzert]
  - name: travel
    description: Trips.
    seeds: [travel]
""",
        )
    )
    assert config.names == ("music", "travel")
    assert config.themes[0].seed_words == ("music", "konzert")
    assert config.min_confidence == 0.6 and config.version == "7"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("themes:\n  - {name: music, seeds: [music]}\n", "at least two themes"),
        ("themes:\n  - {name: music, seeds: [music]}\n  - {name: music, seeds: [song]}\n", "unique"),
        (f"themes:\n  - {{name: {UNKNOWN}, seeds: [x]}}\n  - {{name: music, seeds: [song]}}\n", "reserved"),
        ("themes:\n  - {name: music, seeds: []}\n  - {name: travel, seeds: [trip]}\n", "no seed words"),
        (
            "min_confidence: 2\nthemes:\n  - {name: a, seeds: [ab]}\n  - {name: b, seeds: [cd]}\n",
            "between 0 and 1",
        ),
        ("colour: red\nthemes: []\n", "unknown key"),
        ("themes:\n  - music\n", "needs a name"),
    ],
)
def test_broken_theme_files_are_refused(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        load_themes(_write(tmp_path, text))


def test_a_config_can_be_built_in_code():
    config = ThemeConfig((Theme("a", ("apple",)), Theme("b", ("banana",))), min_confidence=0.5)
    assert config.names == ("a", "b")
    assert THEMES_FILE.name == "themes.yml"
