"""The run report: one self-contained HTML file written from a small hand-made warehouse.

The tables are created here with the columns the steps give them (load audit, dlt's quarantine tables,
segment sizes, model runs, identity health, page themes), so the tests need no pipeline run.
"""

import datetime as dt
import re

import duckdb
import pytest

from models_ml.recommendations import MODEL_RUNS_DDL
from pwh.publish import PUBLICATIONS_DDL, build_settings
from pwh.report import _ticks, write_report

RUN_DATE = dt.date(2026, 1, 2)
RUN_ID = "2026-01-02-bbbbbbbb"
EVIL = "<script>alert(1)</script>"

LOAD_AUDIT_DDL = """
create schema if not exists audit;
create table audit.load_audit (
    run_id varchar not null, run_date date not null, source varchar not null, table_name varchar not null,
    load_ids varchar, files_read bigint, rows_read bigint not null, rows_loaded bigint not null,
    rows_quarantined bigint not null, started_at timestamptz not null, finished_at timestamptz not null
);
"""


def audit_rows(con, run_id: str, run_date: dt.date, events: tuple[int, int], load_id: str) -> None:
    started = dt.datetime.combine(run_date, dt.time(1), dt.UTC)
    for source, table, files, loaded, quarantined, load in (
        ("crm", "customers", 0, 1500, 0, f"{load_id}.1"),
        ("events", "events", 2, *events, load_id),
    ):
        con.execute(
            "insert into audit.load_audit values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, run_date, source, table, load, files, loaded + quarantined, loaded, quarantined,
             started, started + dt.timedelta(seconds=12.5)],
        )  # fmt: skip


def make_warehouse(path, segment: str = "loyal_customers", reason: str = "malformed JSON") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(LOAD_AUDIT_DDL)
        audit_rows(con, "2026-01-01-aaaaaaaa", dt.date(2026, 1, 1), (1000, 10), "100.1")
        audit_rows(con, RUN_ID, RUN_DATE, (1234, 7), "200.2")
        con.execute("create schema raw_events")
        con.execute(
            """
            create table raw_events.quarantine as select * from (values
                ('events/2026-01-01/a.jsonl', 3, '{}', 'missing required field event_id', '100.1'),
                ('events/2026-01-02/b.jsonl', 2, '{"x": "</td><b>"}', $1, '200.2'),
                ('events/2026-01-02/b.jsonl', 4, '{"y"', $1, '200.2'),
                ('events/2026-01-02/b.jsonl', 5, '{}', 'missing required field event_id', '200.2')
            ) as rows(source_file, line_number, raw_line, reason, _dlt_load_id)
            """,
            [reason],
        )
        con.execute(PUBLICATIONS_DDL)
        con.execute(
            "insert into audit.publications values (?, ?, ?, 40, 20)",
            [RUN_ID, RUN_DATE, dt.datetime(2026, 1, 3, 2, 30, tzinfo=dt.UTC)],
        )
        con.execute(
            """
            create schema marts;
            create table marts.segment_sizes (
                run_id varchar not null, run_date date not null, segment_name varchar not null,
                members bigint not null, entered bigint not null, exited bigint not null
            );
            insert into marts.segment_sizes values
                ('2026-01-01-aaaaaaaa', '2026-01-01', 'at_risk', 50, 50, 0),
                ('2026-01-01-aaaaaaaa', '2026-01-01', $segment, 300, 300, 0),
                ($run_id, '2026-01-02', 'at_risk', 58, 10, 2),
                ($run_id, '2026-01-02', $segment, 4321, 4100, 79);
            """,
            {"segment": segment, "run_id": RUN_ID},
        )
        con.execute(MODEL_RUNS_DDL)
        for run_id, run_date, svd, popularity, published in (
            ("2026-01-01-aaaaaaaa", dt.date(2026, 1, 1), 0.15, 0.16, False),
            (RUN_ID, RUN_DATE, 0.1934, 0.1272, True),
        ):
            con.execute(
                "insert into marts.model_runs values (?, ?, ?, null, null, ?, 5000, 0.16, 0.1, ?, 0.1, 0.12, "
                "0.1, 0.07, ?, 0.05, 0.03, '{}', ?, ?, 1.5)",
                [f"svd-{run_id}", run_id, run_date, dt.datetime.combine(run_date, dt.time(), dt.UTC), svd,
                 popularity, published, f"svd ndcg@10 {svd} vs popularity {popularity}"],
            )  # fmt: skip
        con.execute(
            """
            create table marts.identity_health as select * from (values
                ('1', 1, 822, 822, 1, 820, 2, 0.0, 0.0, 0.0, 1.0, 12, 0.6),
                ('3-5', 3, 548, 2000, 5, 0, 500, 0.9, 0.8, 1.0, 1.5, 0, 0.4)
            ) as rows(size_bucket, size_bucket_order, people, identifiers, max_identifiers,
                anonymous_only_people, customer_people, avg_customer_ids, avg_user_ids, avg_emails,
                avg_anonymous_ids, identifiers_kept_apart, share_of_people);
            create table marts.page_themes as select * from (values
                ('/c/kitchen', 'cooking', 'manual_rule', 700),
                ('/p/pan', 'cooking', 'model', 90),
                ('/p/tent', 'travel', 'model', 40)
            ) as rows(page_url, theme, method, view_count);
            """
        )


def text_of(page: str) -> str:
    """The page's visible text, charts left out, tags stripped (entities kept)."""
    page = re.sub(r"<(style|svg)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def section(page: str, anchor: str) -> str:
    return re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S).group(1)


def test_report_shows_every_section_with_its_numbers(settings):
    make_warehouse(settings.warehouse_path)

    path = write_report(settings, RUN_DATE, RUN_ID)

    assert path == settings.data_dir / "reports" / "2026-01-02.html"
    page = path.read_text()
    assert (settings.data_dir / "reports" / "latest.html").read_text() == page
    text = text_of(page)
    assert RUN_ID in text and "2026-01-03 02:30:00 UTC (40 tables, 20 views)" in text
    assert "No data yet" not in page and "Could not read" not in page
    # rows loaded: one chart of loads and one of quarantine over both runs, and this run's table
    loads = section(page, "loads")
    assert loads.count("<svg") == 2 and "2026-01-01" in loads
    assert "events events 2 1,241 1,234 7 0.56% yes 12.5" in text_of(loads)
    assert "<title>events · 2026-01-02 (2026-01-02-bbbbbbbb): 1,234</title>" in loads
    # quarantine: this run's load only (load id 200.2), reasons by count, first line of each
    quarantine = text_of(section(page, "quarantine"))
    assert "events malformed JSON 2 events/2026-01-02/b.jsonl:2" in quarantine
    assert "events missing required field event_id 1 events/2026-01-02/b.jsonl:5" in quarantine
    assert "&lt;/td&gt;&lt;b&gt;" in section(page, "quarantine")
    # segments: members over time, the latest date's table with the change since the previous date
    segments = section(page, "segments")
    assert "<svg" in segments and "loyal_customers 4,321 4,100 79 +4,021" in text_of(segments)
    assert "change since 2026-01-01" in text_of(segments)
    # models: metrics over time, newest run first in the table
    models = section(page, "models")
    assert "<svg" in models and "popularity ndcg@10" in models
    assert text_of(models).index(f"svd-{RUN_ID}") < text_of(models).index("svd-2026-01-01-aaaaaaaa")
    assert "0.1934 0.1272" in text_of(models)
    # identity health and page themes: a bar chart and a table each
    assert "<svg" in section(page, "identity") and "3-5 548 2,000" in text_of(section(page, "identity"))
    themes = section(page, "themes")
    assert "<svg" in themes and "cooking model 1 90" in text_of(themes)
    assert "<title>cooking · manual_rule: 1</title>" in themes
    # self-contained: nothing fetched from anywhere, no script at all
    assert (
        not re.search(r'(src|href)="(https?:)?//', page) and "<script" not in page and "@import" not in page
    )


def test_user_values_are_escaped(settings):
    make_warehouse(settings.warehouse_path, segment=EVIL, reason='<img src=x onerror="alert(2)">')

    page = write_report(settings, RUN_DATE, RUN_ID).read_text()

    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text_of(page)  # in the table
    assert "&lt;script&gt;alert(1)&lt;/script&gt; · 2026-01-02" in page  # in a chart's tooltip
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page


def test_an_empty_warehouse_says_no_data_yet(settings):
    settings.warehouse_path.parent.mkdir(parents=True)
    duckdb.connect(str(settings.warehouse_path)).close()

    path = write_report(settings, RUN_DATE, RUN_ID)

    page = path.read_text()
    assert page.count('<p class="empty">No data yet.</p>') == 6
    assert "<svg" not in page and "not published" in text_of(page)
    assert (settings.data_dir / "reports" / "latest.html").read_text() == page


def test_a_crm_only_run_has_nothing_quarantined(settings):
    settings.warehouse_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(LOAD_AUDIT_DDL)
        audit_rows(con, RUN_ID, RUN_DATE, (0, 0), "1")
        con.execute("delete from audit.load_audit where source <> 'crm'")  # a landing zone with a CRM only

    page = write_report(settings, RUN_DATE).read_text()  # no run id: the latest run up to the date

    assert RUN_ID in text_of(page) and "crm customers 0 1,500 1,500 0 0.00% yes" in text_of(page)
    assert "Nothing was quarantined in this run." in page
    assert page.count("No data yet.") == 4  # segments, models, identity, themes


def test_a_section_that_cannot_be_read_shows_why_and_the_rest_still_renders(settings):
    make_warehouse(settings.warehouse_path)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("alter table marts.segment_sizes rename column members to people")

    page = write_report(settings, RUN_DATE, RUN_ID).read_text()

    assert "Could not read this section" in section(page, "segments") and "members" in section(
        page, "segments"
    )
    assert "<svg" in section(page, "models")


def test_the_pipeline_settings_read_the_published_warehouse(settings):
    make_warehouse(settings.warehouse_path)  # published; nothing at the build path

    page = write_report(build_settings(settings), RUN_DATE).read_text()  # no run id: the latest published

    assert f"{RUN_ID} 2026-01-02 2026-01-03 02:30:00 UTC" in text_of(page) and "1,234" in page


def test_no_warehouse_is_an_error(settings):
    with pytest.raises(FileNotFoundError, match="run `pwh run` first"):
        write_report(settings, RUN_DATE, RUN_ID)


def test_a_backfilled_day_leaves_latest_alone(settings):
    make_warehouse(settings.warehouse_path)
    write_report(settings, RUN_DATE, RUN_ID)

    older = write_report(settings, dt.date(2026, 1, 1), "2026-01-01-aaaaaaaa")

    reports = settings.data_dir / "reports"
    assert older.name == "2026-01-01.html" and "2026-01-02" not in text_of(
        section(older.read_text(), "loads")
    )
    assert (reports / "latest.html").read_text() == (reports / "2026-01-02.html").read_text()
    assert sorted(path.name for path in reports.iterdir()) == [
        "2026-01-01.html",
        "2026-01-02.html",
        "latest.html",
    ]


@pytest.mark.parametrize(
    ("largest", "ticks"),
    [
        (0, [0, 1]),
        (4321, [0, 1000, 2000, 3000, 4000, 5000]),
        (0.19, [0, 0.05, 0.1, 0.15, 0.2]),
        (8, [0, 2, 4, 6, 8]),
    ],
)
def test_axis_ticks_are_round_and_cover_the_largest_value(largest, ticks):
    assert _ticks(largest) == pytest.approx(ticks)
