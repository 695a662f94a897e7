"""The nightly segments step on small hand-made person_features tables: hysteresis, exclusions, history
stints over several run dates, idempotent reruns, and the size checks that stop a run before export."""

import datetime as dt
import json
import textwrap

import duckdb
import pytest

from pwh.pipeline import StepFailed
from pwh.segments import SegmentError, load_segments, parse_segments
from pwh.segments.build import SegmentBuildError, SegmentSizeError, as_of, build_segments
from pwh.segments.catalogue import SizeCheck
from pwh.warehouse import connect

DAY1, DAY2, DAY3 = dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)
# buyers enter with 2 purchases and stay with 1; browsers leave out buyers; window_shoppers leave out
# browsers, so someone who is a buyer, a browser and a window shopper is in buyers and window_shoppers
CATALOGUE = """
size_checks:
  allow_empty: true
segments:
  - name: buyers
    description: Bought twice this week; stay while buying at all.
    owner: test
    rule: purchases_7d >= 2
    stay_rule: purchases_7d >= 1
    values: [purchases_7d, product_views_7d]
  - name: browsers
    description: Many product views.
    owner: test
    rule: product_views_7d >= 5
    exclude: [buyers]
  - name: window_shoppers
    description: Some product views.
    owner: test
    rule: product_views_7d >= 3
    exclude: [browsers]
"""


@pytest.fixture
def catalogue(tmp_path):
    path = tmp_path / "segments.yml"
    path.write_text(CATALOGUE)
    return path


def features(settings, people: dict[str, tuple[int, int]]) -> None:
    """marts.person_features with person -> (purchases_7d, product_views_7d), as the marts step leaves it."""
    with connect(settings.warehouse_path) as con:
        con.execute(
            "create schema if not exists marts; create or replace table marts.person_features "
            "(person_id varchar, purchases_7d bigint, product_views_7d bigint, city varchar)"
        )
        rows = [[person, bought, viewed, "Berlin"] for person, (bought, viewed) in people.items()]
        if rows:
            con.executemany("insert into marts.person_features values (?, ?, ?, ?)", rows)


def run(settings, catalogue, day, people, run_id=None, **options):
    features(settings, people)
    return build_segments(settings, day, run_id or f"{day}-run", catalogue, **options)


def members(settings) -> dict[str, set[str]]:
    with connect(settings.warehouse_path, read_only=True) as con:
        rows = con.execute("select segment_name, person_id from marts.segment_memberships").fetchall()
    found: dict[str, set[str]] = {}
    for segment, person in rows:
        found.setdefault(segment, set()).add(person)
    return found


def table(settings, name: str, order: str) -> list[tuple]:
    with connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(f"select * from marts.{name} order by {order}").fetchall()


def tables(settings) -> dict[str, list[tuple]]:
    return {
        "history": table(settings, "segment_history", "all"),
        "memberships": table(settings, "segment_memberships", "all"),
        "sizes": table(settings, "segment_sizes", "all"),
        "definitions": table(settings, "segment_definitions", "segment_name"),
    }


# --- membership: rules, hysteresis, exclusions, values


def test_hysteresis_enter_by_rule_stay_by_stay_rule_then_leave(settings, catalogue):
    run(settings, catalogue, DAY1, {"ann": (2, 0), "bob": (1, 0)})
    assert members(settings).get("buyers") == {"ann"}, "bob has 1 purchase: not enough to enter"
    run(settings, catalogue, DAY2, {"ann": (1, 0), "bob": (1, 0)})
    assert members(settings).get("buyers") == {"ann"}, "ann stays on 1 purchase; bob still cannot enter"
    run(settings, catalogue, DAY3, {"ann": (0, 0), "bob": (2, 0)})
    assert members(settings).get("buyers") == {"bob"}, "ann leaves with no purchase; bob enters"


def test_a_segment_without_stay_rule_keeps_people_while_its_rule_holds(settings, catalogue):
    run(settings, catalogue, DAY1, {"cat": (0, 6)})
    assert members(settings)["browsers"] == {"cat"}
    run(settings, catalogue, DAY2, {"cat": (0, 4)})
    assert "browsers" not in members(settings)


def test_exclusions_remove_the_final_members_of_the_named_segments(settings, catalogue):
    run(
        settings,
        catalogue,
        DAY1,
        {"all_three": (2, 9), "browser": (0, 9), "window": (0, 3), "nobody": (0, 0)},
    )
    assert members(settings) == {
        "buyers": {"all_three"},
        # all_three matches the browsers rule but is a buyer, so is not a browser ...
        "browsers": {"browser"},
        # ... and so stays a window shopper, which only leaves out the browsers' members
        "window_shoppers": {"all_three", "window"},
    }


def test_memberships_carry_the_rule_values_and_the_start_of_the_stint(settings, catalogue):
    run(settings, catalogue, DAY1, {"ann": (2, 5)})
    run(settings, catalogue, DAY2, {"ann": (1, 7)})
    (row,) = [row for row in table(settings, "segment_memberships", "all") if row[1] == "buyers"]
    person, segment, entered_at, rule_values, run_id = row
    assert (person, segment, run_id) == ("ann", "buyers", f"{DAY2}-run")
    assert entered_at == as_of(DAY1) == dt.datetime(2026, 3, 2, 0, 0)
    assert json.loads(rule_values) == {"purchases_7d": 1, "product_views_7d": 7}, "today's values"


def test_the_catalogue_as_built_is_recorded_with_its_size_checks(settings, catalogue):
    run(settings, catalogue, DAY1, {"ann": (2, 5)})
    rows = {row[0]: row for row in table(settings, "segment_definitions", "segment_name")}
    assert set(rows) == {"buyers", "browsers", "window_shoppers"}
    name, _, owner, rule, stay_rule, _, exclude, values, allow_empty, *_, run_id, run_date = rows["buyers"]
    assert (owner, rule, stay_rule, exclude) == ("test", "purchases_7d >= 2", "purchases_7d >= 1", [])
    assert values == ["purchases_7d", "product_views_7d"] and allow_empty is True
    assert (run_id, run_date) == (f"{DAY1}-run", DAY1)
    assert rows["browsers"][6] == ["buyers"] and rows["browsers"][7] == ["product_views_7d"]


# --- history and reruns


def test_history_has_one_row_per_stint_across_three_run_dates(settings, catalogue):
    run(settings, catalogue, DAY1, {"ann": (0, 9), "bob": (0, 9), "cat": (0, 0)}, run_id="r1")
    run(settings, catalogue, DAY2, {"ann": (0, 0), "bob": (0, 9), "cat": (0, 9)}, run_id="r2")
    summary = run(settings, catalogue, DAY3, {"ann": (0, 9), "bob": (0, 9), "cat": (0, 0)}, run_id="r3")
    one, two, three = as_of(DAY1), as_of(DAY2), as_of(DAY3)
    history = [
        row[2:] + row[:1]
        for row in table(settings, "segment_history", "person_id, entered_at")
        if row[1] == "browsers"
    ]
    assert history == [
        (one, two, "r1", "r2", "ann"),
        (three, None, "r3", None, "ann"),  # back again: a new stint
        (one, None, "r1", None, "bob"),  # still in: one open stint since day 1
        (two, three, "r2", "r3", "cat"),
    ]
    entered = {
        row[0]: row[2] for row in table(settings, "segment_memberships", "all") if row[1] == "browsers"
    }
    assert entered == {"ann": three, "bob": one}
    browsers = next(size for size in summary.sizes if size.name == "browsers")
    assert (browsers.members, browsers.entered, browsers.exited, browsers.previous) == (2, 1, 1, 2)
    sizes = [row[1:] for row in table(settings, "segment_sizes", "run_date") if row[2] == "browsers"]
    assert sizes == [(DAY1, "browsers", 2, 2, 0), (DAY2, "browsers", 2, 1, 1), (DAY3, "browsers", 2, 1, 1)]


def test_rerunning_a_run_changes_nothing(settings, catalogue):
    run(settings, catalogue, DAY1, {"ann": (2, 9), "bob": (0, 9)}, run_id="r1")
    run(settings, catalogue, DAY2, {"ann": (1, 0), "cat": (0, 4)}, run_id="r2")
    once = tables(settings)
    run(settings, catalogue, DAY2, {"ann": (1, 0), "cat": (0, 4)}, run_id="r2")
    assert tables(settings) == once
    # a new run id for the same date (a second `pwh run`) replaces that date's rows, it does not add any
    run(settings, catalogue, DAY2, {"ann": (1, 0), "cat": (0, 4)}, run_id="r2-again")
    again = tables(settings)
    assert {name: len(rows) for name, rows in again.items()} == {
        name: len(rows) for name, rows in once.items()
    }
    assert again["history"] == [
        tuple("r2-again" if value == "r2" else value for value in row) for row in once["history"]
    ]


def test_running_an_earlier_date_again_rewinds_the_history_to_it(settings, catalogue):
    day1 = {"ann": (2, 9), "bob": (0, 9)}
    run(settings, catalogue, DAY1, day1, run_id="r1")
    after_day1 = tables(settings)
    run(settings, catalogue, DAY2, {"cat": (0, 9)}, run_id="r2")
    run(settings, catalogue, DAY1, day1, run_id="r1")
    rewound = tables(settings)
    assert rewound["history"] == after_day1["history"]
    assert rewound["memberships"] == after_day1["memberships"]
    # sizes are a log of what each run date saw; the later date's row stays until that date runs again
    assert [row[1] for row in rewound["sizes"]].count(DAY2) == 3


def test_segments_dropped_from_the_catalogue_close_their_stints(settings, catalogue, tmp_path):
    run(settings, catalogue, DAY1, {"ann": (2, 9)}, run_id="r1")
    smaller = tmp_path / "smaller.yml"
    smaller.write_text(CATALOGUE.split("  - name: browsers")[0])
    run(settings, smaller, DAY2, {"ann": (2, 9)}, run_id="r2")
    open_stints = {row[1] for row in table(settings, "segment_history", "all") if row[3] is None}
    assert open_stints == {"buyers"}
    assert {row[0] for row in table(settings, "segment_definitions", "segment_name")} == {"buyers"}


# --- failures before anything changes


def test_features_missing_from_the_warehouse_fail_naming_segments_and_columns(settings, tmp_path):
    path = tmp_path / "segments.yml"
    path.write_text(
        CATALOGUE
        + "  - name: music_fans\n"
        + "    description: Into music.\n"
        + "    owner: test\n"
        + "    rule: interest_music >= 0.35 and interest_active_days_music_30d >= 3\n"
        + "    values: [interest_music, age]\n"
    )
    with pytest.raises(SegmentBuildError) as failure:
        run(settings, path, DAY1, {"ann": (2, 9)})
    assert str(failure.value).endswith("\n- music_fans: interest_music, interest_active_days_music_30d, age")
    assert "1 segment(s)" in str(failure.value) and "marts.person_features" in str(failure.value)
    assert not _has_table(settings, "segment_memberships"), "checked before anything runs"


def test_no_person_features_table_is_a_clear_error(settings, catalogue):
    with pytest.raises(SegmentBuildError, match="no marts.person_features table: run the marts step"):
        build_segments(settings, DAY1, "r1", catalogue)


def test_a_bad_catalogue_fails_the_step_with_every_problem(settings, tmp_path):
    path = tmp_path / "segments.yml"
    path.write_text(CATALOGUE.replace("purchases_7d >= 2", "purchases_7d >= two"))
    features(settings, {"ann": (2, 9)})
    with pytest.raises(SegmentBuildError, match="segment 'buyers': rule column 17") as failure:
        build_segments(settings, DAY1, "r1", path)
    assert isinstance(failure.value, StepFailed) and isinstance(failure.value.__cause__, SegmentError)


# --- size checks


def sized(tmp_path, checks: str):
    path = tmp_path / "sized.yml"
    path.write_text(CATALOGUE.replace("size_checks:\n  allow_empty: true\n", textwrap.dedent(checks)))
    return path


def test_an_empty_segment_fails_the_run_and_changes_nothing(settings, tmp_path):
    path = sized(tmp_path, "size_checks: {segments: {window_shoppers: {allow_empty: true}}}\n")
    run(settings, path, DAY1, {"ann": (2, 9), "bob": (0, 9)}, run_id="r1")
    before = tables(settings)
    with pytest.raises(SegmentSizeError) as failure:
        run(settings, path, DAY2, {"ann": (2, 0)}, run_id="r2")
    assert failure.value.problems == (
        f"browsers: empty, 0 members (it had 1 on {DAY1}); allow_empty is false",
    )
    assert "nothing was exported" in str(failure.value) and "size_checks section" in str(failure.value)
    assert tables(settings) == before, "a failed check rolls the whole run back"


def test_a_big_day_over_day_swing_fails_but_a_small_segment_may_flap(settings, tmp_path):
    path = sized(
        tmp_path,
        """\
        size_checks:
          max_daily_change: 0.5
          change_tolerance: 5
          warmup_days: 0
          segments: {buyers: {allow_empty: true}, window_shoppers: {allow_empty: true}}
        """,
    )
    many = {f"p{number:02}": (0, 9) for number in range(20)}
    run(settings, path, DAY1, many | {"ann": (0, 3), "bob": (0, 3)}, run_id="r1")
    # browsers 20 -> 9 (-55%, 11 people); window shoppers 2 -> 0 (-100%, but only 2 people)
    with pytest.raises(SegmentSizeError) as failure:
        run(settings, path, DAY2, dict(list(many.items())[:9]), run_id="r2")
    assert failure.value.problems == (
        f"browsers: 20 -> 9 members since {DAY1} (-11, 55%); the bound is 50% and more than 5 people",
    )
    run(settings, path, DAY2, dict(list(many.items())[:10]), run_id="r2")  # -50%: within the bound


def test_no_swing_check_while_a_new_warehouse_fills_its_windows(settings, tmp_path):
    path = sized(tmp_path, "size_checks: {warmup_days: 7, change_tolerance: 0, allow_empty: true}\n")
    run(settings, path, DAY1, {"ann": (0, 9)}, run_id="r1")
    # 1 -> 20 browsers on the second day of history: a backfill from scratch, not an incident
    run(settings, path, DAY2, {f"p{number:02}": (0, 9) for number in range(20)}, run_id="r2")


def test_size_checks_can_be_recorded_without_failing(settings, tmp_path, caplog):
    path = sized(tmp_path, "size_checks: {allow_empty: false}\n")
    summary = run(settings, path, DAY1, {"ann": (0, 9)}, run_id="r1", check_sizes=False)
    assert {size.name: size.members for size in summary.sizes} == {
        "browsers": 1,
        "buyers": 0,
        "window_shoppers": 0,
    }
    assert "buyers: empty" in caplog.text
    assert members(settings) == {"browsers": {"ann"}}


def test_size_checks_in_the_catalogue_default_pattern_and_name():
    segments = parse_segments(
        CATALOGUE.replace(
            "size_checks:\n  allow_empty: true\n",
            textwrap.dedent(
                """\
                size_checks:
                  max_daily_change: 0.8
                  segments:
                    "b*": {change_tolerance: 3, allow_empty: true}
                    buyers: {max_daily_change: 2}
                """
            ),
        )
    )
    assert {segment.name: segment.size_check for segment in segments} == {
        "buyers": SizeCheck(allow_empty=True, max_daily_change=2, change_tolerance=3),
        "browsers": SizeCheck(allow_empty=True, max_daily_change=0.8, change_tolerance=3),
        "window_shoppers": SizeCheck(allow_empty=False, max_daily_change=0.8, change_tolerance=20),
    }


def test_bad_size_checks_are_catalogue_problems():
    with pytest.raises(SegmentError) as failure:
        parse_segments(
            CATALOGUE.replace(
                "size_checks:\n  allow_empty: true\n",
                "size_checks:\n  allow_empty: maybe\n  max_daily_change: 0\n  tolerance: 3\n"
                "  segments: {buyer: {change_tolerance: -1}, 'x*': 5}\n",
            )
        )
    assert failure.value.problems == (
        "'size_checks': unknown key 'tolerance' (did you mean 'change_tolerance'?); expected allow_empty, "
        "max_daily_change, change_tolerance, warmup_days, segments",
        "'size_checks': expected true or false for 'allow_empty', found 'maybe'",
        "'size_checks': expected a share above 0 (0.5 = 50%) for 'max_daily_change', found 0",
        "'size_checks' segment 'buyer': matches no segment (did you mean 'buyers'?)",
        "'size_checks' segment 'buyer': expected a whole number of people, 0 or more for 'change_tolerance', "
        "found -1",
        "'size_checks' segment 'x*': expected a mapping of allow_empty, max_daily_change, change_tolerance, "
        "warmup_days, "
        "found 5",
    )


def test_the_default_catalogue_lets_only_interest_segments_be_empty():
    for segment in load_segments():
        assert segment.size_check.allow_empty == segment.name.startswith("interest_"), segment.name
        assert 0 < segment.size_check.max_daily_change <= 1 and segment.size_check.change_tolerance == 20


def _has_table(settings, name: str) -> bool:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return bool(
            con.execute("select count(*) from duckdb_tables() where table_name = ?", [name]).fetchone()[0]
        )
