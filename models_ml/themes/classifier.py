"""`ThemeClassifier`: which theme a page is about, learnt from the pages themselves and a few seed words.

No labelled pages are needed, and nothing is downloaded. Fitting on a set of pages (paths and titles):

1. Seed matching. A page that names one theme's seed words more often than any other theme's (counted as
   distinct words, plurals and inflections included; see `text.matches_seed`) is labelled with that
   theme. Pages filed under a theme ("/magazine/travel/...") or titled with a seed word get labelled
   here; most pages name none.
2. Learning the rest of the vocabulary. A multinomial logistic regression over TF-IDF features (whole
   words plus character 3-5-grams, so "guitars" is close to "guitar" and "Rezepte" to "Rezept") is
   trained on those labelled pages with their seed words hidden, plus every seed word on its own as a
   one-word example of its theme. Hiding the seed words forces the model to learn what else the
   theme's pages say ("lisbon", "itinerary" next to "travel"); the one-word examples keep the seeds in.
   Words that the labelled pages of half the themes or more use are generic (section names such as
   "articles", title boilerplate such as "ideas" or "the") and are left out everywhere: which pages
   happen to name a seed word is not random, so such words would otherwise pick up a spurious lean.
3. Scoring. Every page, labelled or not, gets the model's probability for each theme. The best theme
   wins when its probability reaches `min_confidence`, otherwise the page is `unknown`. A page made
   only of generic or never-seen words gets about equal probabilities, so it stays unknown.

    classifier = ThemeClassifier(load_themes()).fit(pages)   # pages: Page(path, title) or (path, title)
    probabilities = classifier.score(pages)                  # (pages, themes), columns in classifier.names
    predictions = classifier.predict(pages)                  # ThemePrediction per page

The nightly step refits it on every page seen so far, so new vocabulary is picked up as it appears.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from models_ml.themes.config import UNKNOWN, ThemeConfig
from models_ml.themes.text import matches_seed, page_words

log = logging.getLogger(__name__)

# a word is generic when seed-labelled pages of at least this many themes use it, however few themes
MIN_GENERIC_THEMES = 3


class Page(NamedTuple):
    """A page as the classifier sees it: a URL or path, and its title when known."""

    path: str
    title: str | None = None


@dataclass(frozen=True)
class ThemePrediction:
    theme: str  # best_theme, or UNKNOWN when confidence < min_confidence
    confidence: float  # probability of best_theme, 0..1
    best_theme: str  # the most probable theme, even when below the threshold
    second_theme: str
    second_confidence: float  # probability of second_theme, 0..1
    seed_theme: str | None  # the theme whose seed words the page names, if any (step 1)


def _as_words(pages: Iterable[Page | tuple[str, str | None]]) -> list[list[str]]:
    return [page_words(*page) for page in pages]


def _tokens(document: list[str]) -> list[str]:
    """Analyzer for pre-split documents (a named function, so a fitted vectorizer stays picklable)."""
    return document


class ThemeClassifier:
    """Scores pages against the themes of a `ThemeConfig` (see the module docstring for the method).

    `regularisation` is the logistic regression's C (higher: trusts the learnt words more, more
    confident probabilities); `char_ngrams` the character n-gram range, None for whole words only, and
    `char_weight` how much the n-grams count next to whole words (they catch inflections, but also
    chance overlaps); `generic_theme_share` the share of themes whose labelled pages must use a word
    for it to be generic; `seed_weight` how much a one-word seed example counts against one page.
    The model has no intercept, so a page with no known word gets equal probabilities (unknown).
    """

    def __init__(
        self,
        config: ThemeConfig,
        *,
        regularisation: float = 20.0,
        char_ngrams: tuple[int, int] | None = (3, 5),
        char_weight: float = 0.5,
        generic_theme_share: float = 0.5,
        seed_weight: float = 3.0,
    ) -> None:
        self.config = config
        self.regularisation = regularisation
        self.char_ngrams = char_ngrams
        self.char_weight = char_weight
        self.generic_theme_share = generic_theme_share
        self.seed_weight = seed_weight
        self.generic_words: frozenset[str] = frozenset()
        self._seeds = [theme.seed_words for theme in config.themes]
        self._seed_cache: dict[str, tuple[int, ...]] = {}
        self._word_vectorizer: TfidfVectorizer | None = None
        self._char_vectorizer: TfidfVectorizer | None = None
        self._model: LogisticRegression | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Theme names, in the order of score()'s columns."""
        return self.config.names

    # --- step 1: seed words ------------------------------------------------------------------------

    def _seed_columns(self, word: str) -> tuple[int, ...]:
        """Themes (columns) one of whose seed words this word matches; cached, pages repeat words."""
        columns = self._seed_cache.get(word)
        if columns is None:
            columns = tuple(
                column
                for column, seeds in enumerate(self._seeds)
                if any(matches_seed(word, seed) for seed in seeds)
            )
            self._seed_cache[word] = columns
        return columns

    def _seed_hits(self, documents: Sequence[list[str]]) -> np.ndarray:
        hits = np.zeros((len(documents), len(self._seeds)), dtype=np.int64)
        for row, document in enumerate(documents):
            for word in set(document):
                for column in self._seed_columns(word):
                    hits[row, column] += 1
        return hits

    def seed_matches(self, pages: Iterable[Page | tuple[str, str | None]]) -> np.ndarray:
        """(pages, themes) counts of each page's distinct words that match a theme's seed words."""
        return self._seed_hits(_as_words(pages))

    @staticmethod
    def _labels(hits: np.ndarray) -> np.ndarray:
        """Column of the theme with strictly the most seed hits per row; -1 for none or a tie."""
        if hits.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        best = hits.argmax(axis=1)
        top = hits.max(axis=1)
        unique_top = (hits == top[:, None]).sum(axis=1) == 1
        return np.where((top > 0) & unique_top, best, -1)

    def seed_labels(self, pages: Iterable[Page | tuple[str, str | None]]) -> np.ndarray:
        """Step 1 alone: the theme index each page's seed words point to, -1 when none or a tie."""
        return self._labels(self.seed_matches(pages))

    def _is_seed(self, word: str) -> bool:
        return bool(self._seed_columns(word))

    # --- step 2: learn, step 3: score --------------------------------------------------------------

    def _find_generic_words(self, documents: Sequence[list[str]], labels: np.ndarray) -> frozenset[str]:
        """Non-seed words that the seed-labelled pages of many themes use: they say nothing about a theme."""
        themes_of: dict[str, set[int]] = {}
        for document, label in zip(documents, labels, strict=True):
            if label >= 0:
                for word in document:
                    themes_of.setdefault(word, set()).add(int(label))
        spread = max(MIN_GENERIC_THEMES, round(self.generic_theme_share * len(self.names)))
        return frozenset(
            word for word, themes in themes_of.items() if len(themes) >= spread and not self._is_seed(word)
        )

    def _features(self, documents: Sequence[list[str]]) -> sp.csr_matrix:
        assert self._word_vectorizer is not None, "fit the classifier first"
        documents = [[word for word in document if word not in self.generic_words] for document in documents]
        blocks = [normalize(self._word_vectorizer.transform(documents))]
        if self._char_vectorizer is not None:
            chars = normalize(self._char_vectorizer.transform([" ".join(d) for d in documents]))
            blocks.append(chars * self.char_weight)
        return normalize(sp.hstack(blocks).tocsr())

    def fit(self, pages: Iterable[Page | tuple[str, str | None]]) -> ThemeClassifier:
        """Learn the themes' vocabulary from these pages (any pages: none need a label)."""
        documents = _as_words(pages)
        labels = self._labels(self._seed_hits(documents))
        self.generic_words = self._find_generic_words(documents, labels)
        # every seed word, and every inflected form of one the pages use, is a one-word example
        page_vocabulary = sorted({word for document in documents for word in document})
        seed_examples = sorted(
            {(seed, column) for column, seeds in enumerate(self._seeds) for seed in seeds}
            | {(word, column) for word in page_vocabulary for column in self._seed_columns(word)}
        )
        seed_documents = [[word] for word, _ in seed_examples]
        seed_targets = [column for _, column in seed_examples]
        # the vocabulary and IDF weights come from the pages themselves (and the seeds)
        corpus = [[word for word in d if word not in self.generic_words] for d in documents] + seed_documents
        self._word_vectorizer = TfidfVectorizer(analyzer=_tokens, sublinear_tf=True).fit(corpus)
        self._char_vectorizer = None
        if self.char_ngrams is not None:
            self._char_vectorizer = TfidfVectorizer(
                analyzer="char_wb", ngram_range=self.char_ngrams, sublinear_tf=True
            ).fit([" ".join(d) for d in corpus])
        training, targets = list(seed_documents), list(seed_targets)
        for document, label in zip(documents, labels, strict=True):
            hidden = [word for word in document if not self._is_seed(word) and word not in self.generic_words]
            if label >= 0 and hidden:
                training.append(hidden)
                targets.append(int(label))
        weights = np.ones(len(training))
        weights[: len(seed_documents)] = self.seed_weight
        self._model = LogisticRegression(
            C=self.regularisation, solver="newton-cg", max_iter=1000, fit_intercept=False
        )
        self._model.fit(self._features(training), np.array(targets), sample_weight=weights)
        log.info(
            "themes: fitted on %d pages, %d labelled by seed words (%s), %d generic words ignored",
            len(documents),
            int((labels >= 0).sum()),
            ", ".join(f"{name} {int((labels == i).sum())}" for i, name in enumerate(self.names)),
            len(self.generic_words),
        )
        return self

    def score(self, pages: Iterable[Page | tuple[str, str | None]]) -> np.ndarray:
        """(pages, themes) probabilities, each row summing to 1; columns in the order of `names`."""
        if self._model is None:
            raise RuntimeError("fit the classifier first")
        documents = _as_words(pages)
        if not documents:
            return np.zeros((0, len(self.names)))
        return self._model.predict_proba(self._features(documents))

    def predict(
        self, pages: Iterable[Page | tuple[str, str | None]], min_confidence: float | None = None
    ) -> list[ThemePrediction]:
        """The theme of each page (UNKNOWN below `min_confidence`, default the config's), best first."""
        pages = list(pages)
        threshold = self.config.min_confidence if min_confidence is None else min_confidence
        probabilities = self.score(pages)
        seed_labels = self.seed_labels(pages)
        predictions = []
        for row, seed_label in zip(probabilities, seed_labels, strict=True):
            first, second = np.argsort(-row, kind="stable")[:2]
            best = self.names[first]
            predictions.append(
                ThemePrediction(
                    theme=best if row[first] >= threshold else UNKNOWN,
                    confidence=float(row[first]),
                    best_theme=best,
                    second_theme=self.names[second],
                    second_confidence=float(row[second]),
                    seed_theme=self.names[seed_label] if seed_label >= 0 else None,
                )
            )
        return predictions
