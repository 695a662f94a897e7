"""Page text for the theme classifier: URL paths and titles as normalised words, and seed matching.

Words are letters only (digits, punctuation and one-letter leftovers dropped), case-folded and without
accents, so "Fußball", "fussball" and "FUSSBALL" are one word and "música" matches "musica". Paths are
normalised the way `staging.stg_logs__page_visits.page_path` is, so a shop URL from the analytics events
and a request path from the access logs give the same page key.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W\d_]+")
_SCHEME_AND_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]*")
_SLASHES = re.compile(r"/{2,}")
# endings a seed word may take and still match: English and Swedish plurals, German and French inflections
SEED_SUFFIXES = ("s", "es", "e", "n", "en", "er")
_MIN_STEM = 3  # shorter seeds match only exactly


def words(text: str | None) -> list[str]:
    """Normalised words of a text, in order: letters only, case-folded, accents removed, 2+ letters."""
    if not text:
        return []
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in folded if not unicodedata.combining(char))
    return [word for word in _WORD.findall(plain) if len(word) > 1]


def normalise_path(url: str) -> str:
    """The page key of a URL or request path, as in stg_logs__page_visits.page_path.

    No fragment or query string, lower case, no scheme and host, single slashes, no trailing slash, and
    '/' for the home page: "https://Shop.example.com/C/Books/?x=1#top" -> "/c/books".
    """
    path = url.split("#", 1)[0].split("?", 1)[0].strip().lower()
    path = _SLASHES.sub("/", _SCHEME_AND_HOST.sub("", path)).rstrip("/")
    return path or "/"


def page_words(path: str, title: str | None = None) -> list[str]:
    """The words a page is classified by: its path's, then its title's."""
    return words(path) + words(title)


def matches_seed(word: str, seed: str) -> bool:
    """True when a normalised word is the seed or the seed with one of SEED_SUFFIXES."""
    if word == seed:
        return True
    if len(seed) < _MIN_STEM or not word.startswith(seed):
        return False
    return word[len(seed) :] in SEED_SUFFIXES
