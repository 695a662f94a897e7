"""Segment exports: the consent filter, formula-safe cells, clear errors, the nightly folder with its
manifest, `pwh segments list`, and, on the generated sample warehouse, every default segment built with
sensible members and exported row for row."""

import csv
import datetime as dt
import hashlib
import json
import shutil
from decimal import Decimal

import pytest

from pwh.segments import export as export_module
from pwh.segments import load_segments
from pwh.segments.build import as_of, build_segments
from pwh.segments.export import (
    ExportError,
    UnknownSegmentError,
    export_all,
    export_segment,
    list_segments,
    neutralise,
)
from pwh.warehouse import connect
from tests.conftest import settings_for
from tests.sample import SAMPLE_RUN_DATE

DAY1, DAY2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
CATALOGUE = """
size_checks: {allow_empty: true}
segments:
  - name: buyers
    description: Bought this week.
    owner: test
    rule: purchases_7d >= 1
    values: [purchases_7d, revenue_30d, city]
  - name: berliners
    description: Live in Berlin.
    owner: test
    rule: city = 'Berlin'
"""
# person: (purchases_7d, revenue_30d, city, first_name, email, has_marketing_opt_in); dan has no profile
PEOPLE = {
    "ann": (2, "120.50", "Berlin", "Ann", "ann@example.com", True),
    "bob": (1, "-5.00", '=HYPERLINK("http://x")', "@SUM(A1)", "bob@example.com", True),
    "cat": (3, "10.00", "Berlin", "Cat", None, False),
    "eve": (1, "0.00", "Hamburg", "-2+3", "+eve@example.com", None),
    "dan": (1, "0.00", "Köln", None, None, None),
    "fay": (0, "0.00", "Berlin", "\tFay", "fay@example.com", True),
}


@pytest.fixture
def built(settings, tmp_path):
    """A small warehouse whose segments were built for DAY1."""
    path = tmp_path / "segments.yml"
    path.write_text(CATALOGUE)
    load(settings, PEOPLE)
    build_segments(settings, DAY1, "r1", path)
    return settings, path


def load(settings, people) -> None:
    with connect(settings.warehouse_path) as con:
        con.execute(
            """
            create schema if not exists marts;
            create or replace table marts.person_features
                (person_id varchar, purchases_7d bigint, revenue_30d decimal(18, 2), city varchar);
            create or replace table marts.user_profiles
                (person_id varchar, first_name varchar, email varchar, has_marketing_opt_in boolean);
            """
        )
        for person, (bought, revenue, city, first_name, email, consent) in people.items():
            con.execute(
                "insert into marts.person_features values (?, ?, ?, ?)", [person, bought, revenue, city]
            )
            if person != "dan":
                con.execute(
                    "insert into marts.user_profiles values (?, ?, ?, ?)",
                    [person, first_name, email, consent],
                )


def read(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- one segment to a file


def test_only_people_with_marketing_consent_are_exported_unless_asked(built, tmp_path):
    settings, _ = built
    summary = export_segment(settings, "buyers", tmp_path / "buyers.csv")
    assert [row["person_id"] for row in read(tmp_path / "buyers.csv")] == ["ann", "bob"]
    assert (summary.rows, summary.members, summary.left_out) == (2, 5, 3)
    # no consent recorded (eve) or no profile at all (dan) is no consent
    everyone = export_segment(settings, "buyers", tmp_path / "all.csv", include_no_consent=True)
    assert [row["person_id"] for row in read(tmp_path / "all.csv")] == ["ann", "bob", "cat", "dan", "eve"]
    assert everyone.rows == everyone.members == 5 and everyone.include_no_consent


def test_a_row_has_the_person_the_start_of_the_stint_and_the_rule_values(built, tmp_path):
    settings, _ = built
    summary = export_segment(settings, "buyers", tmp_path / "buyers.csv", include_no_consent=True)
    assert summary.columns == (
        "person_id", "email", "first_name", "entered_at", "purchases_7d", "revenue_30d", "city",
    )  # fmt: skip
    rows = {row["person_id"]: row for row in read(tmp_path / "buyers.csv")}
    assert rows["ann"] == {
        "person_id": "ann",
        "email": "ann@example.com",
        "first_name": "Ann",
        "entered_at": "2026-03-02 00:00:00",
        "purchases_7d": "2",
        "revenue_30d": "120.50",
        "city": "Berlin",
    }
    assert (rows["cat"]["email"], rows["dan"]["first_name"], rows["dan"]["city"]) == ("", "", "Köln")


def test_cells_a_spreadsheet_would_run_are_neutralised_but_numbers_stay_numbers(built, tmp_path):
    settings, _ = built
    export_segment(settings, "buyers", tmp_path / "buyers.csv", include_no_consent=True)
    rows = {row["person_id"]: row for row in read(tmp_path / "buyers.csv")}
    assert rows["bob"]["first_name"] == "'@SUM(A1)"
    assert rows["bob"]["city"] == '\'=HYPERLINK("http://x")'
    assert rows["bob"]["revenue_30d"] == "-5.00", "a negative number is a number, not a formula"
    assert (rows["eve"]["first_name"], rows["eve"]["email"]) == ("'-2+3", "'+eve@example.com")
    for cell in ("=1+1", "+1+1", "-1+1", "@A1", "\t=1", "\r=1", "-", "+"):
        assert neutralise(cell) == "'" + cell
    for cell in ("-5", "+3", "-0.35", "1e5", "-1.5E-3", "Ann", "a=b", "", "'=1"):
        assert neutralise(cell) == cell


def test_an_unknown_segment_lists_the_known_ones(built, tmp_path):
    settings, _ = built
    with pytest.raises(UnknownSegmentError) as failure:
        export_segment(settings, "buyer", tmp_path / "x.csv")
    assert str(failure.value).startswith(
        "unknown segment 'buyer' (did you mean 'buyers'?); the segments are: berliners, buyers"
    )
    assert not (tmp_path / "x.csv").exists()


def test_a_path_that_cannot_be_written_is_a_clear_error(built, tmp_path, monkeypatch):
    settings, _ = built
    with pytest.raises(ExportError, match=r"cannot write .*/missing/x.csv: .*/missing does not exist"):
        export_segment(settings, "buyers", tmp_path / "missing" / "x.csv")
    with pytest.raises(ExportError, match="it is a folder; give a file name such as"):
        export_segment(settings, "buyers", tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(ExportError, match="file is not a folder"):
        export_segment(settings, "buyers", tmp_path / "file" / "x.csv")

    def refuse(source, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(export_module.os, "replace", refuse)
    with pytest.raises(ExportError, match=r"cannot write .*/locked.csv: Permission denied"):
        export_segment(settings, "buyers", tmp_path / "locked.csv")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "file", "segments.yml"], (
        "no file left"
    )


def test_without_segments_the_warehouse_says_to_run_first(settings):
    with connect(settings.warehouse_path) as con:
        con.execute("create schema marts")
    with pytest.raises(ExportError, match=r"has no segments yet: run `pwh run` first"):
        export_segment(settings, "buyers", settings.data_dir / "x.csv")
    with pytest.raises(ExportError, match="has no segments yet"):
        list_segments(settings)


# --- the nightly folder


def test_export_all_writes_every_segment_and_a_manifest_with_checksums(built):
    settings, _ = built
    folder = export_all(settings, DAY1, "r1")
    assert folder == settings.exports_dir / "2026-03-01"
    assert sorted(path.name for path in folder.iterdir()) == ["berliners.csv", "buyers.csv", "manifest.json"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {key: manifest[key] for key in ("run_id", "run_date", "warehouse_snapshot")} == {
        "run_id": "r1",
        "run_date": "2026-03-01",
        "warehouse_snapshot": "r1",
    }
    for entry in manifest["segments"]:
        path = folder / entry["file"]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["rows"] == len(read(path))
    assert [(entry["segment"], entry["rows"], entry["members"]) for entry in manifest["segments"]] == [
        ("berliners", 2, 3),
        ("buyers", 2, 5),
    ]


def test_export_all_is_idempotent_and_drops_segments_no_longer_built(built, tmp_path):
    settings, path = built
    folder = export_all(settings, DAY1, "r1")
    first = {file.name: file.read_bytes() for file in folder.iterdir()}
    assert export_all(settings, DAY1, "r1") == folder
    assert {file.name: file.read_bytes() for file in folder.iterdir()} == first

    path.write_text(CATALOGUE.split("  - name: berliners")[0])
    build_segments(settings, DAY1, "r2", path)
    export_all(settings, DAY1, "r2")
    assert sorted(file.name for file in folder.iterdir()) == ["buyers.csv", "manifest.json"]
    assert json.loads((folder / "manifest.json").read_text())["run_id"] == "r2"


def test_export_all_refuses_segment_tables_of_another_run(built):
    settings, _ = built
    with pytest.raises(ExportError, match="come from run r1 of 2026-03-01, not run r9 of 2026-03-01"):
        export_all(settings, DAY1, "r9")
    assert not settings.exports_dir.exists()


def test_list_segments_shows_sizes_and_the_change_since_the_previous_run(built):
    settings, path = built
    first = {row.name: row for row in list_segments(settings)}
    assert (first["buyers"].members, first["buyers"].change, first["buyers"].previous_run_date) == (
        5,
        None,
        None,
    )
    people = dict(PEOPLE)
    people["fay"] = (1, *PEOPLE["fay"][1:])
    people["ann"] = (0, *PEOPLE["ann"][1:])
    people["bob"] = (0, *PEOPLE["bob"][1:])
    load(settings, people)
    build_segments(settings, DAY2, "r2", path)
    rows = list_segments(settings)
    assert [row.name for row in rows] == ["berliners", "buyers"]
    buyers = rows[1]
    assert (buyers.members, buyers.entered, buyers.exited, buyers.change) == (4, 1, 2, -1)
    assert (buyers.run_date, buyers.previous_run_date, buyers.description) == (
        DAY2,
        DAY1,
        "Bought this week.",
    )
    assert rows[0].change == 0


# --- the default catalogue on the generated sample warehouse


@pytest.fixture(scope="module")
def sample(tmp_path_factory, sample_landing, sample_run):
    """A copy of the session's `pwh run` of the sample, its default segments rebuilt and exported again
    (a repeat of the run's own segments and export steps, which must give the same tables and files)."""
    root = tmp_path_factory.mktemp("segments_sample")
    shutil.copytree(sample_landing, root / "landing")
    shutil.copytree(sample_run[0], root / "data")
    with pytest.MonkeyPatch.context() as monkeypatch:
        settings = settings_for(root / "data", monkeypatch, root / "landing")
        with connect(settings.warehouse_path, read_only=True) as con:
            (run_id,) = con.execute("select distinct run_id from marts.segment_memberships").fetchone()
        summary = build_segments(settings, SAMPLE_RUN_DATE, run_id)
        folder = export_all(settings, SAMPLE_RUN_DATE, run_id)
        yield settings, summary, folder, load_segments()


def test_the_default_segments_on_the_sample_have_sensible_members(sample):
    settings, summary, _, segments = sample
    sizes = {size.name: size.members for size in summary.sizes}
    print("segment sizes on the sample:", sizes)
    assert set(sizes) == {segment.name for segment in segments}
    with connect(settings.warehouse_path, read_only=True) as con:
        people = con.execute("select count(*) from marts.person_features").fetchone()[0]
        for segment in segments:
            if not segment.name.startswith("interest_"):
                assert 0 < sizes[segment.name] < people, segment.name
            # a first run: the members are the people the rule picks, less those of the excluded segments
            expected = con.execute(
                f"""
                select count(*) from marts.person_features
                where {segment.enter_sql}
                    and person_id not in (
                        select person_id from marts.segment_memberships
                        where list_contains(?, segment_name)
                    )
                """,
                [list(segment.exclude)],
            ).fetchone()[0]
            assert sizes[segment.name] == expected, segment.name
        assert con.execute(
            "select count(*) from marts.segment_memberships where entered_at <> ?", [as_of(SAMPLE_RUN_DATE)]
        ).fetchone() == (0,)


def test_the_exports_match_segment_memberships_row_for_row(sample):
    settings, summary, folder, _ = sample
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [entry["segment"] for entry in manifest["segments"]] == sorted(size.name for size in summary.sizes)
    with connect(settings.warehouse_path, read_only=True) as con:
        for entry in manifest["segments"]:
            expected = con.execute(
                """
                select memberships.person_id, profiles.email, profiles.first_name, memberships.rule_values
                from marts.segment_memberships as memberships
                inner join marts.user_profiles as profiles
                    on memberships.person_id = profiles.person_id
                where memberships.segment_name = ? and profiles.has_marketing_opt_in
                order by memberships.person_id
                """,
                [entry["segment"]],
            ).fetchall()
            rows = read(folder / entry["file"])
            assert entry["rows"] == len(rows) == len(expected), entry["segment"]
            for row, (person_id, email, first_name, rule_values) in zip(rows, expected, strict=True):
                assert (row["person_id"], row["email"], row["first_name"]) == (
                    person_id,
                    email or "",
                    first_name or "",
                )
                values = json.loads(rule_values, parse_float=Decimal)
                assert {name: row[name] for name in values} == {
                    name: ""
                    if value is None
                    else str(value).lower()
                    if isinstance(value, bool)
                    else str(value)
                    for name, value in values.items()
                }, entry["segment"]
            assert entry["sha256"] == hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest()
