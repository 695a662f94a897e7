"""Page words, the page key and seed matching."""

import pytest

from models_ml.themes.text import matches_seed, normalise_path, page_words, words


def test_words_are_case_folded_letters_without_accents():
    assert words("Músicas de VERANO 2026: Fußball & Gödel's-Theorem!") == [
        "musicas",
        "de",
        "verano",
        "fussball",
        "godel",
        "theorem",
    ]
    assert words(None) == [] and words("") == []


def test_page_words_are_the_paths_then_the_titles():
    assert page_words("/de/rezepte/schnelle-pasta_2", "Schnelle Pasta") == [
        "de",
        "rezepte",
        "schnelle",
        "pasta",
        "schnelle",
        "pasta",
    ]


@pytest.mark.parametrize(
    ("url", "path"),
    [
        # the same cases as stg_logs__page_visits' unit test: one page, one key
        ("/Magazine/Cooking/Easy-Pasta/?utm_source=mail", "/magazine/cooking/easy-pasta"),
        ("/magazine//cooking/easy-pasta#comments", "/magazine/cooking/easy-pasta"),
        ("https://shop.example.com/magazine/cooking/easy-pasta", "/magazine/cooking/easy-pasta"),
        ("https://Shop.example.com/C/Books/?x=1#top", "/c/books"),
        ("https://shop.example.com", "/"),
        ("/", "/"),
    ],
)
def test_normalise_path_matches_the_staging_page_path(url, path):
    assert normalise_path(url) == path


def test_seeds_match_their_plurals_and_inflections_only():
    assert matches_seed("recipes", "recipe")
    assert matches_seed("rezepte", "rezept")
    assert matches_seed("kids", "kid")
    assert matches_seed("music", "music")
    assert not matches_seed("musical", "music")  # "-al" is another word
    assert not matches_seed("modern", "mode")
    assert not matches_seed("ai", "a")
    assert not matches_seed("cookbook", "cook")
