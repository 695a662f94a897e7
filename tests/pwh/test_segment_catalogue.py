"""The segment catalogue: the default segments.yml loads and picks the right people on DuckDB, and a bad
catalogue fails as a whole, listing every problem with its segment and position."""

import dataclasses
import textwrap

import duckdb
import pytest
import yaml

from pwh.segments import (
    DEFAULT_FEATURES,
    DEFAULT_SEGMENTS_PATH,
    FEATURE_DESCRIPTIONS,
    FEATURE_TYPES,
    THEMES,
    SegmentError,
    load_segments,
    parse_segments,
)

SQL_TYPES = {
    "number": "double",
    "text": "varchar",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
CORE_SEGMENTS = {
    "active_shoppers",
    "abandoned_cart",
    "interested_buyers",
    "loyal_customers",
    "at_risk",
    "new_visitors",
}


def test_the_feature_list_has_every_column_of_person_features_with_a_type_and_a_description():
    assert len(DEFAULT_FEATURES) == 37 + 2 * len(THEMES)
    assert set(DEFAULT_FEATURES.values()) <= FEATURE_TYPES
    assert FEATURE_DESCRIPTIONS.keys() == DEFAULT_FEATURES.keys()
    assert all(text and "\n" not in text for text in FEATURE_DESCRIPTIONS.values())
    assert DEFAULT_FEATURES["person_id"] == "text"
    assert DEFAULT_FEATURES["purchased_since_last_cart"] == "boolean"
    for theme in THEMES:
        assert DEFAULT_FEATURES[f"interest_{theme}"] == "number"
        assert DEFAULT_FEATURES[f"interest_active_days_{theme}_30d"] == "number"


def test_the_default_catalogue_loads_with_every_segment_documented():
    segments = load_segments()
    names = [segment.name for segment in segments]
    assert set(names) == CORE_SEGMENTS | {f"interest_{theme}" for theme in THEMES}
    for segment in segments:
        assert len(segment.description) > 40 and segment.owner == "marketing"
        assert segment.enter_sql.startswith("coalesce(")
        assert set(segment.value_features) <= DEFAULT_FEATURES.keys()


def test_the_theme_template_expands_to_one_segment_per_theme_with_hysteresis():
    raw = yaml.safe_load(DEFAULT_SEGMENTS_PATH.read_text())
    assert tuple(raw["per_theme"]["themes"]) == THEMES
    interest = [segment for segment in load_segments() if segment.name.startswith("interest_")]
    assert [segment.name for segment in interest] == [f"interest_{theme}" for theme in THEMES]
    travel = interest[THEMES.index("travel")]
    assert travel.rule == "interest_travel >= 0.35 and interest_active_days_travel_30d >= 3"
    assert travel.stay_rule == "interest_travel >= 0.2"
    assert travel.description.startswith("A sustained interest in travel")
    assert travel.value_features == ("interest_travel", "interest_active_days_travel_30d")
    assert "{theme}" not in repr(interest)


QUIET = {  # someone who exists but did nothing lately: counts are 0, never null
    **{name: 0 for name, type_ in DEFAULT_FEATURES.items() if type_ == "number"},
    **{name: False for name, type_ in DEFAULT_FEATURES.items() if type_ == "boolean"},
    "days_since_first_seen": 400,
    **{name: None for name in ("days_since_last_purchase", "hours_since_last_cart", "days_since_last_visit")},
    **{name: None for name in ("recency_score", "frequency_score", "monetary_score", "average_order_value")},
}
PEOPLE = {
    "shopper": QUIET | dict(purchases_7d=1, purchases_30d=1, purchases_90d=1, purchases_total=1,
                            product_views_7d=5, days_since_last_purchase=2, hours_since_last_cart=60,
                            purchased_since_last_cart=True),
    "carter": QUIET | dict(hours_since_last_cart=5, add_to_carts_1d=1, add_to_carts_7d=1, product_views_7d=6,
                           purchased_since_last_cart=None),
    "browser": QUIET | dict(product_views_7d=8, purchases_total=2, days_since_last_purchase=75, recency_score=2),
    "loyal": QUIET | dict(purchases_30d=1, purchases_90d=4, purchases_total=9, days_since_last_purchase=10,
                          frequency_score=5),
    "newbie": QUIET | dict(days_since_first_seen=2, interest_music=0.5, interest_active_days_music_30d=3),
    "fading_fan": QUIET | dict(interest_travel=0.25, interest_active_days_travel_30d=12, purchases_90d=2,
                               frequency_score=4),
    "quiet": QUIET,
    "unknown": {},  # every feature null
}  # fmt: skip
# raw rule matches; `exclude` (interested_buyers leaves out abandoned_cart) is the nightly step's to apply
ENTERS = {
    "active_shoppers": {"shopper"},
    "abandoned_cart": {"carter"},
    "interested_buyers": {"carter", "browser"},
    "loyal_customers": {"loyal"},
    "at_risk": {"browser"},
    "new_visitors": {"newbie"},
    "interest_music": {"newbie"},
}
STAYS = {
    "loyal_customers": {"loyal", "fading_fan"},
    "interest_music": {"newbie"},
    "interest_travel": {"fading_fan"},
}


def test_the_default_catalogue_picks_the_expected_people_on_duckdb():
    segments = load_segments()
    with duckdb.connect() as db:
        columns = ", ".join(f'"{name}" {SQL_TYPES[type_]}' for name, type_ in DEFAULT_FEATURES.items())
        db.execute(f"create table person_features ({columns})")
        placeholders = ", ".join("?" * len(DEFAULT_FEATURES))
        rows = [
            [{**values, "person_id": person}.get(name) for name in DEFAULT_FEATURES]
            for person, values in PEOPLE.items()
        ]
        db.executemany(f"insert into person_features values ({placeholders})", rows)

        def members(sql: str) -> set[str]:
            return {
                person
                for (person,) in db.execute(f"select person_id from person_features where {sql}").fetchall()
            }

        for segment in segments:
            assert members(segment.enter_sql) == ENTERS.get(segment.name, set()), segment.name
            if segment.stay_sql:
                assert members(segment.stay_sql) == STAYS.get(segment.name, set()), segment.name
        interested = next(segment for segment in segments if segment.name == "interested_buyers")
        assert interested.exclude == ("abandoned_cart",)


# --- validation: the whole file is checked, and every problem is reported


def parse(text: str, **kwargs):
    return parse_segments(textwrap.dedent(text), DEFAULT_FEATURES, source="test.yml", **kwargs)


def problems_of(text: str) -> tuple[str, ...]:
    with pytest.raises(SegmentError) as caught:
        parse(text)
    assert str(caught.value).startswith("test.yml: ")
    assert isinstance(caught.value, ValueError)
    return caught.value.problems


GOOD = textwrap.dedent(
    """
    segments:
      - name: buyers
        description: Bought this week.
        owner: marketing
        rule: purchases_7d >= 1
    """
)


def test_a_minimal_catalogue_loads_with_defaults():
    [segment] = parse(GOOD)
    assert (segment.name, segment.priority, segment.exclude, segment.values) == ("buyers", 0, (), ())
    assert (segment.stay_rule, segment.stay_sql) == (None, None)
    assert segment.enter_sql == 'coalesce("purchases_7d" >= 1, false)'
    assert segment.value_features == ("purchases_7d",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        segment.name = "other"


def test_value_features_default_to_the_features_both_rules_use():
    [segment] = parse(GOOD + "    stay_rule: purchases_30d >= 1 or purchases_7d >= 1\n")
    assert segment.value_features == ("purchases_7d", "purchases_30d")
    [segment] = parse(GOOD + "    values: [revenue_30d]\n")
    assert (segment.values, segment.value_features) == (("revenue_30d",), ("revenue_30d",))


def test_every_bad_segment_is_reported_at_once():
    problems = problems_of(
        """
        segments:
          - name: buyers
            description: Bought this week.
            owner: marketing
            rule: purchases_7d >= 1 and purchases_7d foo
          - name: browsers
            description: Browsed.
            owner: marketing
            rule: product_views_7d >= 3
            stay_rule: product_view_7d >= 1
            rules: typo
            priority: high
            exclude: [browsers, nobody]
            values: [revenue]
          - name: Bad-Name
            description: ""
            rule: true
          - name: buyers
            description: Twice.
            owner: marketing
            rule: purchases_30d >= 1
          - just text
        """
    )
    assert problems == (
        "segment 'buyers': the name is used 2 times",
        "segment 'buyers': rule column 36: expected a comparison operator after 'purchases_7d', found 'foo'\n"
        "    purchases_7d >= 1 and purchases_7d foo\n"
        "                                       ^",
        "segment 'browsers': unknown key 'rules' (did you mean 'rule'?); expected name, description, owner, rule, "
        "stay_rule, priority, exclude, values",
        "segment 'browsers': expected a whole number for 'priority', found 'high'",
        "segment 'browsers': 'exclude' names the segment itself",
        "segment 'browsers': 'exclude' names unknown segment 'nobody'",
        "segment 'browsers': 'values' names unknown feature 'revenue' (did you mean 'revenue_90d', 'revenue_30d' or "
        "'revenue_total'?)",
        "segment 'browsers': stay_rule column 1: expected a feature name, found unknown feature 'product_view_7d' "
        "(did you mean 'product_views_7d', 'product_views_1d' or 'product_views_30d'?)\n"
        "    product_view_7d >= 1\n"
        "    ^",
        "segment 'Bad-Name': missing 'owner'",
        "segment 'Bad-Name': expected a snake_case name (a-z, 0-9, _; at most 63), found 'Bad-Name'",
        "segment 'Bad-Name': expected text for 'description', found ''",
        "segment 'Bad-Name': expected text for 'rule', found True",
        "segment #5: expected a mapping of name, description, owner, rule, ..., found text",
    )


def test_exclude_cycles_are_refused():
    problems = problems_of(
        """
        segments:
          - {name: a, description: A., owner: m, rule: is_customer, exclude: [b]}
          - {name: b, description: B., owner: m, rule: has_email, exclude: [c]}
          - {name: c, description: C., owner: m, rule: has_email, exclude: [a]}
          - {name: d, description: D., owner: m, rule: has_email, exclude: [a]}
        """
    )
    assert problems == ("segment 'a': 'exclude' goes round in a circle: a -> b -> c -> a",)


def test_excluding_a_segment_is_fine_without_a_cycle():
    segments = parse(
        """
        segments:
          - {name: a, description: A., owner: m, rule: is_customer, exclude: [b, c]}
          - {name: b, description: B., owner: m, rule: has_email, exclude: [c]}
          - {name: c, description: C., owner: m, rule: has_email}
        """
    )
    assert [segment.exclude for segment in segments] == [("b", "c"), ("c",), ()]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "expected a mapping with a 'segments' list at the top"),
        ("- a\n- b\n", "expected a mapping with a 'segments' list at the top"),
        ("segments: [\n", "not valid YAML: "),
        ("segments: []\n", "expected at least one segment"),
        ("segments: {}\n", "'segments': expected a list of segments, found a mapping"),
        ("segment: []\n", "the top level: unknown key 'segment' (did you mean 'segments'?)"),
        (
            "segments:\n  - name: a\n    name: b\n    description: x\n    owner: m\n    rule: true\n",
            "found a duplicate key 'name'",
        ),
        ("per_theme: {themes: [music], segments: [{name: fixed}]}\n", "expected a name containing '{theme}'"),
        ("per_theme: {themes: [Music], segments: []}\n", "expected a list of snake_case theme names"),
        ("per_theme: {segments: []}\n", "'per_theme': missing 'themes'"),
    ],
)
def test_structural_problems_are_reported(text, problem):
    problems = problems_of(text)
    assert any(problem in message for message in problems), problems


def test_a_template_is_checked_for_every_theme():
    problems = problems_of(
        """
        per_theme:
          themes: [music, cooking, knitting]
          segments:
            - name: fan_of_{theme}
              description: Likes {theme}.
              owner: marketing
              rule: interest_{theme} >= 0.5
        """
    )
    assert len(problems) == 1
    assert problems[0].startswith(
        "segment 'fan_of_knitting': rule column 1: expected a feature name, found unknown feature 'interest_knitting'"
    )


def test_load_segments_reads_a_file_and_reports_a_missing_one(tmp_path):
    path = tmp_path / "segments.yml"
    path.write_text(GOOD)
    assert [segment.name for segment in load_segments(path)] == ["buyers"]
    with pytest.raises(SegmentError, match="cannot read the file"):
        load_segments(tmp_path / "missing.yml")
