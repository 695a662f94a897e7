"""preprocess: the one place records are normalised, so raw CRM rows and staging rows compare equal."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from models_ml.dedupe import MODEL_FIELDS, preprocess
from models_ml.dedupe.features import normalize_email, normalize_phone


def one(**fields) -> dict:
    return preprocess([{"customer_id": 1, **fields}])[1]


@pytest.mark.parametrize(
    "phone",
    [
        "+44 20 7946 0958",
        "020-7946-0958",
        "00442079460958",
        "+442079460958",
        "+44 (0)20 7946 0958",
        "0207946 0958",
    ],
)
def test_phone_formats_are_equal(phone: str) -> None:
    assert normalize_phone(phone) == "079460958"


def test_phone_formats_of_other_countries() -> None:
    # Sweden (9-digit national number), US (no trunk prefix), France
    assert normalize_phone("+46 8 728 786 34") == normalize_phone("08-728-786-34") == "872878634"
    assert (
        normalize_phone("(646) 949-8813")
        == normalize_phone("+1 646 949 8813")
        == normalize_phone("0016469498813")
    )
    assert normalize_phone("+33 6 12 34 56 78") == normalize_phone("06 12 34 56 78")


def test_too_short_or_empty_phone_is_missing() -> None:
    assert normalize_phone("12345") is None
    assert normalize_phone("") is None
    assert normalize_phone(None) is None


def test_swapped_names_are_equal() -> None:
    assert (
        one(first_name="Bram", last_name="Smit")["name"] == one(first_name="Smit", last_name="Bram")["name"]
    )
    assert (
        one(first_name="Saga", last_name="de Jong")["name"]
        == one(first_name="de Jong", last_name="Saga")["name"]
    )


def test_names_lose_case_accents_and_padding() -> None:
    record = one(first_name="  Zoë ", last_name="MÜLLER-Lüdenscheidt")
    assert record["name"] == "ludenscheidt muller zoe"
    assert record["last_name"] == "muller ludenscheidt"


@pytest.mark.parametrize(
    "email",
    [
        "Saga.Bos@ziggo.nl",
        " sagabos@ziggo.nl ",
        "SAGABOS@ZIGGO.NL",
        "saga.bos+shop@ziggo.nl",
        "Saga.Bos@Ziggo.nl ",
    ],
)
def test_email_case_dots_spaces_and_tags(email: str) -> None:
    assert normalize_email(email) == "sagabos@ziggo.nl"


@pytest.mark.parametrize("email", [None, "", "   ", "no-at-sign.com", "@ziggo.nl", "saga@localhost"])
def test_invalid_email_is_missing(email) -> None:
    assert normalize_email(email) is None


def test_googlemail_is_gmail() -> None:
    assert normalize_email("bram.smit@googlemail.com") == "bramsmit@gmail.com"


@pytest.mark.parametrize(
    ("long", "short"),
    [
        ("190 Berg Avenue", "190 Berg Ave"),
        ("30 Elm Lane", "30 Elm Ln"),
        ("Molengatan 198", "Moleng. 198"),
        ("Rosenstrasse 12", "Rosenstr. 12"),
        ("Tulpstraat 5", "Tulpstr. 5"),
        ("12 rue des Lilas", "12 r. des Lilas"),
        ("12 avenue des Pins", "12 av. des Pins"),
    ],
)
def test_street_abbreviations_are_equal(long: str, short: str) -> None:
    assert one(street_address=long)["street_address"] == one(street_address=short)["street_address"]


def test_postcode_and_city() -> None:
    assert one(postcode="ET9 9ZH")["postcode"] == one(postcode="et99zh")["postcode"] == "et99zh"
    assert one(city=" Malmö ")["city"] == "malmo"


def test_birth_date_from_text_or_date() -> None:
    assert one(birth_date="1973-02-21")["birth_date"] == one(birth_date=dt.date(1973, 2, 21))["birth_date"]
    assert one(birth_date="1900-01-01")["birth_date"] is None


def test_missing_and_empty_fields_are_none() -> None:
    record = one(first_name="", last_name=None, email=" ", street_address="  ", postcode="", city=None)
    assert set(record) == set(MODEL_FIELDS)
    assert all(value is None for value in record.values())


def test_raw_and_staged_rows_agree() -> None:
    raw = {
        "customer_id": 7,
        "email": " Saga.Bos@ziggo.nl",
        "first_name": "SAGA",
        "last_name": "bos",
        "phone": "08-728-786-34",
        "postcode": "850 44",
        "street_address": "Moleng. 198",
        "city": "Stockholm",
    }
    # the same row as staging.stg_crm__customers delivers it: normalised email, E.164 phone, proper case
    staged = {
        "customer_id": 7,
        "email": "saga.bos@ziggo.nl",
        "first_name": "Saga",
        "last_name": "Bos",
        "phone": "+46872878634",
        "postcode": "850 44",
        "street_address": "Molengatan 198",
        "city": "Stockholm",
    }
    assert preprocess([raw]) == preprocess([staged])


def test_accepts_a_pyarrow_table_with_string_ids() -> None:
    table = pa.table(
        {"customer_id": ["a", "b"], "first_name": ["Emma", None], "last_name": ["Smith", "Jones"]}
    )
    data = preprocess(table)
    assert list(data) == ["a", "b"]
    assert data["a"]["name"] == "emma smith"
    assert data["b"]["email"] is None  # columns the table lacks are missing, not an error
