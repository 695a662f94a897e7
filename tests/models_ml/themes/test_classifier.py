"""ThemeClassifier on small hand-made pages in several languages, whose right answers are known."""

import numpy as np
import pytest

from models_ml.themes import UNKNOWN, Page, Theme, ThemeClassifier, ThemeConfig

CONFIG = ThemeConfig(
    (
        Theme("cooking", ("cooking", "recipe", "rezept", "recette", "receta", "recept")),
        Theme("travel", ("travel", "reise", "voyage", "viaje", "resa")),
        Theme("music", ("music", "musik", "musique", "música", "konzert")),
    ),
    min_confidence=0.5,
    version="test",
)

# pages that name a seed word (any language, inflected), and pages that only use words the model must
# learn from them: pasta goes with recipes, lisboa with travel, jazz with music
SEEDED = [
    (Page("/blog/de/rezepte/schnelle-pasta", "Schnelle Pasta: Rezepte für jeden Tag"), "cooking"),
    (Page("/blog/fr/recettes/tarte-aux-pommes", "Recette : tarte aux pommes"), "cooking"),
    (Page("/blog/en/recipes/pasta-carbonara", "Pasta carbonara, the Roman recipe"), "cooking"),
    (Page("/blog/es/viajes/lisboa-en-tres-dias", "Viaje a Lisboa en tres días"), "travel"),
    (Page("/blog/sv/resor/stockholm", "Resa till Stockholm och Lisboa"), "travel"),
    (Page("/blog/en/travel/lisboa-on-a-budget", "Travel: Lisboa on a budget"), "travel"),
    (Page("/blog/en/music/jazz-nights", "Music: jazz nights in Berlin"), "music"),
    (Page("/blog/de/musik/jazz-im-konzert", "Jazz im Konzert"), "music"),
    (Page("/blog/fr/musique/festival-de-jazz", "Musique : le festival de jazz"), "music"),
]
LEARNT = [
    (Page("/blog/en/pasta-for-students"), "cooking"),
    (Page("/blog/en/lisboa-secrets"), "travel"),
    (Page("/blog/en/jazz-records"), "music"),
]
PAGES = [page for page, _ in SEEDED + LEARNT] + [Page("/account/settings", "Account settings")]


@pytest.fixture(scope="module")
def classifier() -> ThemeClassifier:
    return ThemeClassifier(CONFIG).fit(PAGES)


def test_pages_naming_seed_words_in_any_language_are_labelled_by_them(classifier):
    labels = classifier.seed_labels([page for page, _ in SEEDED])
    assert [CONFIG.names[label] for label in labels] == [theme for _, theme in SEEDED]
    assert list(classifier.seed_labels([page for page, _ in LEARNT])) == [-1, -1, -1]


def test_every_page_gets_its_theme_including_words_learnt_from_the_pages(classifier):
    predictions = classifier.predict([page for page, _ in SEEDED + LEARNT])
    assert [p.theme for p in predictions] == [theme for _, theme in SEEDED + LEARNT]
    assert all(p.confidence >= CONFIG.min_confidence for p in predictions)
    assert all(p.second_theme != p.best_theme for p in predictions)


def test_pages_about_nothing_known_are_unknown(classifier):
    account, nothing = classifier.predict([Page("/account/settings", "Account settings"), Page("/xyz")])
    assert account.theme == UNKNOWN and account.confidence < CONFIG.min_confidence
    assert nothing.theme == UNKNOWN
    assert nothing.confidence == pytest.approx(1 / 3), "no known word: equal probabilities"
    assert account.best_theme in CONFIG.names, "the best guess is kept for reviewers"


def test_the_threshold_decides_between_a_theme_and_unknown(classifier):
    page = [Page("/blog/en/jazz-records")]
    (prediction,) = classifier.predict(page)
    assert classifier.predict(page, min_confidence=prediction.confidence)[0].theme == "music"
    assert classifier.predict(page, min_confidence=prediction.confidence + 0.01)[0].theme == UNKNOWN
    assert classifier.predict(page, min_confidence=0.0)[0].theme == "music"


def test_scores_are_probabilities_per_theme(classifier):
    scores = classifier.score(PAGES)
    assert scores.shape == (len(PAGES), 3)
    assert np.allclose(scores.sum(axis=1), 1.0) and (scores >= 0).all()
    assert classifier.names == ("cooking", "travel", "music")
    assert classifier.score([]).shape == (0, 3)


def test_words_every_theme_uses_are_generic_and_ignored(classifier):
    # "blog" and "en" are on labelled pages of every theme: they say nothing about a theme
    assert {"blog", "en"} <= classifier.generic_words
    assert not classifier.generic_words & {"pasta", "lisboa", "jazz"}


def test_seed_words_work_without_any_page(classifier):
    fitted_on_nothing = ThemeClassifier(CONFIG).fit([])
    themes = [p.theme for p in fitted_on_nothing.predict([Page("/de/reisen"), Page("/musique")])]
    assert themes == ["travel", "music"]


def test_tuples_work_as_pages_and_fitting_is_deterministic():
    first = ThemeClassifier(CONFIG).fit([tuple(page) for page in PAGES]).score(PAGES)
    second = ThemeClassifier(CONFIG).fit(PAGES).score(PAGES)
    assert np.array_equal(first, second)


def test_scoring_before_fitting_is_an_error():
    with pytest.raises(RuntimeError, match="fit"):
        ThemeClassifier(CONFIG).score(PAGES)
