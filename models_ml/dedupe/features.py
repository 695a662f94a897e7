"""The one preprocessing step and the dedupe variable definitions for CRM customer records.

Everything dedupe compares goes through `preprocess`, so training pairs, interactive labelling and the
nightly scoring see exactly the same representation. It accepts raw CRM rows (``crm.sqlite``) and the
cleaned rows of ``staging.stg_crm__customers`` alike and maps both to the same values: "+44 20 7946 0958",
"020-7946-0958" and "+442079460958" all become ``"079460958"``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import dedupe
import pyarrow as pa

__all__ = ["FIELDS", "MODEL_FIELDS", "Record", "Records", "make_fields", "normalize_email", "normalize_phone",
           "preprocess"]  # fmt: skip

Record = dict[str, str | None]
# a pyarrow Table or any iterable of dict-like rows with at least a customer_id column
Records = pa.Table | Iterable[Mapping[str, Any]]


def make_fields() -> list[dedupe.variables.base.Variable]:
    """Fresh dedupe variable definitions (dedupe keeps per-run state on them, so never share a list)."""
    # String wherever a typo is plausible (affine-gap distance); Exact where it is not. Any field may be
    # empty, and has_missing lets the classifier learn that "missing" is not "different".
    return [
        # first and last name tokens sorted: "Smit Bram" and "Bram Smit" compare equal
        dedupe.variables.String("name", has_missing=True),
        dedupe.variables.String("last_name", has_missing=True),
        dedupe.variables.String("email", has_missing=True),
        # String rather than Exact: a mistyped digit still scores close
        dedupe.variables.String("phone", has_missing=True),
        dedupe.variables.String("birth_date", has_missing=True),
        dedupe.variables.String("street_address", has_missing=True),
        dedupe.variables.ShortString("postcode", has_missing=True),
        dedupe.variables.Exact("city", has_missing=True),
    ]


FIELDS = make_fields()
MODEL_FIELDS = ("name", "last_name", "email", "phone", "birth_date", "street_address", "postcode", "city")

PHONE_DIGITS = 9  # the national number's tail: the same with or without country code or trunk prefix
# street words in one canonical (short) form, so "Road" == "Rd" and "rue" == "r."
STREET_WORDS = {
    "street": "st", "road": "rd", "avenue": "av", "ave": "av", "lane": "ln", "drive": "dr",
    "boulevard": "bd", "blvd": "bd", "rue": "r", "strasse": "str", "straat": "str", "gatan": "g",
}  # fmt: skip
# the same suffixes written onto the street name: "Rosenstrasse 12", "Molengatan 198"
GLUED_STREET_SUFFIX = re.compile(r"(?<=[a-z])(strasse|straat|gatan)\b")
GLUED_SHORT = {"strasse": "str", "straat": "str", "gatan": "g"}
EMAIL_DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}
NON_ALNUM = re.compile(r"[^a-z0-9]+")
PLACEHOLDER_DATES = {"1900-01-01", "1970-01-01"}


def preprocess(records: Records) -> dict[int | str, Record]:
    """Records keyed by customer_id, with the MODEL_FIELDS dedupe compares (None when empty).

    Lower case, no accents or punctuation; names also as sorted tokens; email without dots or a +tag in
    the local part; phone as its last PHONE_DIGITS digits; street words abbreviated one way; postcode
    without spaces.
    """
    rows = records.to_pylist() if isinstance(records, pa.Table) else records
    data: dict[int | str, Record] = {}
    for row in rows:
        first, last = _clean(row.get("first_name")), _clean(row.get("last_name"))
        tokens = sorted(f"{first or ''} {last or ''}".split())
        data[row["customer_id"]] = {
            "name": " ".join(tokens) or None,
            "last_name": last,
            "email": normalize_email(row.get("email")),
            "phone": normalize_phone(row.get("phone")),
            "birth_date": _date(row.get("birth_date")),
            "street_address": _street(row.get("street_address")),
            "postcode": _nospace(_clean(row.get("postcode"))),
            "city": _clean(row.get("city")),
        }
    return data


def normalize_email(value: Any) -> str | None:
    """'  Bram.Smit+shop@GoogleMail.com ' -> 'bramsmit@gmail.com'; None unless it looks like an address.

    Dots and +tags are dropped for every domain, not only Gmail: that catches the common "same mailbox
    typed differently" duplicate, at the price of making some different people's addresses equal
    ("erik.harris@", "erikharris@"); the labelled pairs include such people, so the classifier does not
    take an equal email alone for a match.
    """
    if value is None:
        return None
    text = "".join(str(value).split()).lower()
    local, at, domain = text.rpartition("@")
    local = local.split("+", 1)[0].replace(".", "")
    if not at or not local or "." not in domain:
        return None
    return f"{local}@{EMAIL_DOMAIN_ALIASES.get(domain, domain)}"


def normalize_phone(value: Any) -> str | None:
    """The last PHONE_DIGITS digits: '+44 20 7946 0958', '020-7946-0958', '00442079460958' agree."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", str(value).replace("(0)", ""))
    return digits[-PHONE_DIGITS:] if len(digits) >= PHONE_DIGITS else None


def _clean(value: Any) -> str | None:
    """Lower case ASCII words separated by single spaces; None for nothing."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKD", str(value).replace("ß", "ss"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = NON_ALNUM.sub(" ", text.replace("'", "")).strip()
    return text or None


def _nospace(text: str | None) -> str | None:
    return text.replace(" ", "") if text else None


def _street(value: Any) -> str | None:
    text = _clean(value)
    if text is None:
        return None
    text = GLUED_STREET_SUFFIX.sub(lambda m: GLUED_SHORT[m.group(1)], text)
    return " ".join(STREET_WORDS.get(word, word) for word in text.split())


def _date(value: Any) -> str | None:
    """ISO date text; placeholder dates some CRMs store for "unknown" count as missing."""
    if value is None:
        return None
    text = value.isoformat()[:10] if isinstance(value, dt.date) else str(value).strip()[:10]
    return None if not text or text in PLACEHOLDER_DATES else text
