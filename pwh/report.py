"""The nightly run report: one self-contained HTML file, charts included, that opens from disk.

`write_report(settings, run_date, run_id)` reads the published warehouse read-only and writes
`<data_dir>/reports/<run_date>.html` and `latest.html`. The page shows the run (id, date, when it was
published), rows loaded and quarantined per source over runs, this run's quarantine reasons, segment sizes
over time, the recommender's metrics over time, identity health and page-theme counts.

Self-contained means no network: no CDN script, font or stylesheet. Charts are inline SVG drawn by the
two small functions below (`line_chart`, `bar_chart`), with a `<title>` on every point and bar as its
tooltip. Every value that reaches the page goes through `html.escape`: segment names, quarantine
reasons and raw lines are user data.

Any table may be missing (a landing zone with only a CRM, a first run, a step that has not run yet): its
section then says "No data yet" instead of failing. A section whose table cannot be read (e.g. a
column renamed) shows the database's error in place; the rest of the report is still written.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pwh.settings import Settings
from pwh.warehouse import connect

log = logging.getLogger(__name__)

HISTORY_RUNS = 90  # charts over time show at most this many runs (the latest ones up to the run date)
QUARANTINE_REASONS = 20  # per source, the most frequent first
EXAMPLE_CHARS = 120  # quarantined lines are cut to this length
PALETTE = (  # Tableau 10: distinguishable, and print in grey scale reasonably
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # source names become schema names (raw_<source>)
METRICS = (  # (label, column) of marts.model_runs charted over time
    ("svd ndcg@10", "svd_ndcg_at_10"),
    ("popularity ndcg@10", "popularity_ndcg_at_10"),
    ("svd precision@10", "svd_precision_at_10"),
    ("popularity precision@10", "popularity_precision_at_10"),
)


def reports_dir(settings: Settings) -> Path:
    return settings.data_dir / "reports"


def write_report(settings: Settings, run_date: dt.date, run_id: str | None = None) -> Path:
    """Write the run report for `run_date` and return its path (`<data_dir>/reports/<run_date>.html`).

    Reads the published warehouse (`settings.published_path` when these are the pipeline's build
    settings, else `settings.warehouse_path`) read-only; raises FileNotFoundError when there is none.
    `run_id` names the run; without it, the latest run published on or before `run_date`. Also writes
    `latest.html`, unless a report of a later date is already there (a backfill of an older day).
    Both files are replaced atomically, so a browser never opens half a page.
    """
    warehouse = settings.published_path or settings.warehouse_path
    folder = reports_dir(settings)
    sites = {  # the other pages of a run, linked relatively so the folder can be moved as a whole
        "dbt docs": settings.data_dir / "dbt" / "target" / "static_index.html",
        "data quality checks": settings.data_dir / "quality" / "data_docs" / "index.html",
    }
    links = {name: os.path.relpath(path, folder) for name, path in sites.items() if path.exists()}
    with connect(warehouse, read_only=True) as con:
        page = render_report(con, run_date, run_id, links)
    dated = folder / f"{run_date.isoformat()}.html"
    _write_atomically(dated, page)
    later = [path for path in folder.glob("????-??-??.html") if path.stem > run_date.isoformat()]
    if not later:
        _write_atomically(folder / "latest.html", page)
    log.info("run report: %s (%.0f kB)", dated, len(page.encode()) / 1e3)
    return dated


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(name, 0o644)  # mkstemp's 0600 would keep other readers out
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


# --- reading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    run_id: str | None
    run_date: dt.date
    published_at: dt.datetime | None = None
    table_count: int | None = None
    view_count: int | None = None


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    schema, table = name.split(".")
    return bool(
        con.execute(
            """
            select count(*) from (
                select schema_name, table_name from duckdb_tables() where database_name = current_database()
                union all
                select schema_name, view_name from duckdb_views() where database_name = current_database()
            ) where schema_name = ? and table_name = ?
            """,
            [schema, table],
        ).fetchone()[0]
    )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def _find_run(con: duckdb.DuckDBPyConnection, run_date: dt.date, run_id: str | None) -> Run:
    """The run as audit.publications recorded it; the latest one up to `run_date` when no id is given."""
    if _exists(con, "audit.publications"):
        found = _rows(
            con,
            """
            select run_id, run_date, published_at, table_count, view_count from audit.publications
            where run_id = $1 or ($1 is null and run_date <= $2)
            order by run_date desc, published_at desc limit 1
            """,
            [run_id, run_date],
        )
        if found:
            return Run(*found[0])
    if run_id is None and _exists(con, "audit.load_audit"):
        found = _rows(
            con,
            "select run_id, run_date from audit.load_audit where run_date <= ? "
            "order by run_date desc, started_at desc limit 1",
            [run_date],
        )
        if found:
            return Run(*found[0])
    return Run(run_id, run_date)


# --- sections -----------------------------------------------------------------------------------------

NO_DATA = '<p class="empty">No data yet.</p>'


def _loads(con: duckdb.DuckDBPyConnection, run: Run) -> str:
    if not _exists(con, "audit.load_audit"):
        return NO_DATA
    history = _rows(
        con,
        """
        with runs as (
            select run_id, max(run_date) as run_date, min(started_at) as started_at
            from audit.load_audit where run_date <= ?
            group by run_id order by run_date desc, started_at desc limit ?
        )
        select runs.run_id, runs.run_date, audit.source, sum(audit.rows_loaded), sum(audit.rows_quarantined)
        from runs join audit.load_audit as audit on audit.run_id = runs.run_id
        group by all order by runs.run_date, min(runs.started_at), audit.source
        """,
        [run.run_date, HISTORY_RUNS],
    )
    if not history:
        return NO_DATA
    runs = list(dict.fromkeys((run_id, run_date) for run_id, run_date, *_ in history))
    labels = [str(run_date) for _, run_date in runs]
    tips = [f"{run_date} ({run_id})" for run_id, run_date in runs]
    index = {key: i for i, key in enumerate(runs)}
    loaded: dict[str, list[float | None]] = {}
    quarantined: dict[str, list[float | None]] = {}
    for run_id, run_date, source, rows_loaded, rows_quarantined in history:
        i = index[(run_id, run_date)]
        loaded.setdefault(source, [None] * len(runs))[i] = rows_loaded
        quarantined.setdefault(source, [None] * len(runs))[i] = rows_quarantined
    parts = [
        line_chart("Rows loaded per source, per run", labels, loaded, tips),
        line_chart("Rows quarantined per source, per run", labels, quarantined, tips),
    ]
    this_run = _rows(
        con,
        """
        select source, table_name, files_read, rows_read, rows_loaded, rows_quarantined,
            rows_quarantined / nullif(rows_read, 0), rows_read = rows_loaded + rows_quarantined,
            date_diff('millisecond', started_at, finished_at) / 1000
        from audit.load_audit where run_id = ? order by source, table_name
        """,
        [run.run_id],
    )
    if this_run:
        parts.append(f"<h3>This run ({_esc(run.run_id)})</h3>")
        headers = ["source", "table", "files", "rows read", "rows loaded", "quarantined", "share quarantined",
                   "balanced", "seconds"]  # fmt: skip
        rows = [[*row[:6], _maybe(_Percent, row[6]), row[7], _maybe(_Seconds, row[8])] for row in this_run]
        parts.append(table(headers, rows))
    else:
        parts.append(f'<p class="empty">No load audit rows for run {_esc(run.run_id or "—")}.</p>')
    return "\n".join(parts)


def _quarantine(con: duckdb.DuckDBPyConnection, run: Run) -> str:
    if not _exists(con, "audit.load_audit"):
        return NO_DATA
    loads = _rows(
        con,
        "select source, string_agg(load_ids, ',') from audit.load_audit where run_id = ? "
        "group by source order by source",
        [run.run_id],
    )
    if not loads:
        return f'<p class="empty">No load audit rows for run {_esc(run.run_id or "—")}.</p>'
    rows = []
    for source, load_ids in loads:
        ids = sorted({load_id for load_id in (load_ids or "").split(",") if load_id})
        name = f"raw_{source}.quarantine"
        if not ids or not SOURCE_NAME.match(source) or not _exists(con, name):
            continue
        marks = ", ".join("?" for _ in ids)
        for reason, count, first_at, first_line in _rows(
            con,
            f"""
            select reason, count(*),
                first(source_file || ':' || line_number order by source_file, line_number),
                first(raw_line order by source_file, line_number)
            from raw_{source}.quarantine where _dlt_load_id in ({marks})
            group by reason order by count(*) desc, reason limit {QUARANTINE_REASONS}
            """,
            ids,
        ):
            rows.append([source, reason, count, first_at, _cut(first_line)])
    if not rows:
        return "<p>Nothing was quarantined in this run.</p>"
    return table(["source", "reason", "rows", "first at (file:line)", "first line"], rows)


def _segments(con: duckdb.DuckDBPyConnection, run: Run) -> str:
    if not _exists(con, "marts.segment_sizes"):
        return NO_DATA
    history = _rows(
        con,
        """
        with dates as (
            select distinct run_date from marts.segment_sizes where run_date <= ?
            order by run_date desc limit ?
        )
        select sizes.run_date, sizes.segment_name, sizes.members, sizes.entered, sizes.exited, sizes.run_id
        from marts.segment_sizes as sizes join dates on sizes.run_date = dates.run_date
        order by sizes.run_date, sizes.segment_name
        """,
        [run.run_date, HISTORY_RUNS],
    )
    if not history:
        return NO_DATA
    dates = sorted({row[0] for row in history})
    index = {run_date: i for i, run_date in enumerate(dates)}
    members: dict[str, list[float | None]] = {}
    for run_date, segment, count, *_ in history:
        members.setdefault(segment, [None] * len(dates))[index[run_date]] = count
    latest, previous = dates[-1], dates[-2] if len(dates) > 1 else None
    before = {row[1]: row[2] for row in history if row[0] == previous}
    rows = [
        [
            segment,
            count,
            entered,
            exited,
            _maybe(_Change, None if segment not in before else count - before[segment]),
        ]
        for run_date, segment, count, entered, exited, _ in history
        if run_date == latest
    ]
    latest_run = next(row[5] for row in history if row[0] == latest)
    return "\n".join(
        [
            line_chart("Members per segment, per run date", [str(d) for d in dates], members),
            f"<h3>Run date {_esc(latest)} ({_esc(latest_run)})</h3>",
            table(["segment", "members", "entered", "exited", f"change since {previous or '—'}"], rows),
        ]
    )


def _models(con: duckdb.DuckDBPyConnection, run: Run) -> str:
    if not _exists(con, "marts.model_runs"):
        return NO_DATA
    columns = ", ".join(column for _, column in METRICS)
    history = _rows(
        con,
        f"""
        select * from (
            select model_version, run_date, interactions, {columns}, svd_recall_at_10, svd_coverage,
                is_published, reason, as_of
            from marts.model_runs where run_date <= ?
            order by run_date desc, as_of desc, model_version desc limit ?
        ) order by run_date, as_of, model_version
        """,
        [run.run_date, HISTORY_RUNS],
    )
    if not history:
        return NO_DATA
    values = {label: [row[3 + i] for row in history] for i, (label, _) in enumerate(METRICS)}
    chart = line_chart(
        "Recommender metrics at 10, per model run (svd vs the popularity baseline)",
        [str(row[1]) for row in history],
        values,
        [str(row[0]) for row in history],
    )
    latest = [row[:11] for row in reversed(history[-10:])]  # as_of left out
    headers = ["model version", "run date", "interactions", *(label for label, _ in METRICS),
               "svd recall@10", "svd coverage", "published", "reason"]  # fmt: skip
    return "\n".join([chart, "<h3>Latest model runs</h3>", table(headers, latest)])


def _identity(con: duckdb.DuckDBPyConnection, run: Run) -> str:
    if not _exists(con, "marts.identity_health"):
        return NO_DATA
    result = con.execute(
        "select * exclude (size_bucket_order) from marts.identity_health order by size_bucket_order"
    )
    headers = [column[0] for column in result.description]
    rows = result.fetchall()
    if not rows:
        return NO_DATA
    buckets = [dict(zip(headers, row, strict=True)) for row in rows]
    chart = bar_chart(
        "People per size bucket (identifiers per person)",
        [(bucket["size_bucket"], {"people": bucket["people"]}) for bucket in buckets],
    )
    return "\n".join([chart, table(headers, rows)])


def _themes(con: duckdb.DuckDBPyConnection, run: Run) -> str:
    if not _exists(con, "marts.page_themes"):
        return NO_DATA
    rows = _rows(
        con,
        """
        select theme, method, count(*) as pages, sum(view_count) as views
        from marts.page_themes group by all order by theme, method
        """,
    )
    if not rows:
        return NO_DATA
    bars: dict[str, dict[str, float]] = {}
    for theme, method, pages, _ in rows:
        bars.setdefault(theme, {})[method] = pages
    chart = bar_chart("Pages per theme, by how they were classified", list(bars.items()))
    return "\n".join([chart, table(["theme", "method", "pages", "views"], rows)])


SECTIONS: tuple[tuple[str, str, Callable[[duckdb.DuckDBPyConnection, Run], str]], ...] = (
    ("loads", "Rows loaded per source", _loads),
    ("quarantine", "Quarantine: this run's rejected rows by reason", _quarantine),
    ("segments", "Segment sizes over time", _segments),
    ("models", "Model metrics over time", _models),
    ("identity", "Identity health", _identity),
    ("themes", "Page themes", _themes),
)


def render_report(
    con: duckdb.DuckDBPyConnection,
    run_date: dt.date,
    run_id: str | None = None,
    links: dict[str, str] | None = None,
) -> str:
    """The report's HTML, read from the open warehouse connection `con`; `links`: title -> href."""
    run = _find_run(con, run_date, run_id)
    sections = []
    for anchor, title, render in SECTIONS:
        try:
            body = render(con, run)
        except duckdb.Error as exc:  # shown in the report and logged; the other sections still render
            log.warning("run report: section %r could not be read: %s", title, exc)
            body = f'<p class="error">Could not read this section: {_esc(exc)}</p>'
        sections.append(f'<section id="{anchor}">\n<h2>{_esc(title)}</h2>\n{body}\n</section>')
    nav = " · ".join(
        [f'<a href="#{anchor}">{_esc(title.split(":")[0])}</a>' for anchor, title, _ in SECTIONS]
        + [f'<a href="{_esc(href)}">{_esc(name)}</a>' for name, href in (links or {}).items()]
    )
    published = (
        f"{_fmt(run.published_at)} ({run.table_count} tables, {run.view_count} views)"
        if run.published_at
        else "not published"
    )
    facts = table(
        ["run id", "run date", "published at"],
        [[run.run_id or "no run recorded yet", run.run_date, published]],
    )
    return PAGE.format(
        title=_esc(f"pwh run report {run_date}"),
        heading=_esc(f"pwh run report · {run_date}"),
        facts=facts,
        nav=nav,
        sections="\n".join(sections),
    )


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 0 auto;
       max-width: 1100px; padding: 1rem 1.5rem 3rem; }}
h1 {{ font-size: 1.5rem; margin-bottom: .3rem; }}
h2 {{ font-size: 1.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }}
h3 {{ font-size: 1rem; margin: 1rem 0 .4rem; }}
nav {{ margin: .5rem 0 1rem; }}
table {{ border-collapse: collapse; margin: .4rem 0; }}
th, td {{ border-bottom: 1px solid #eee; padding: .2rem .6rem; text-align: left; vertical-align: top; }}
th {{ background: #f6f6f6; font-weight: 600; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
td.raw {{ font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; max-width: 28rem; }}
.empty {{ color: #777; font-style: italic; }}
.error {{ color: #b00020; }}
figure {{ margin: .6rem 0 1rem; }}
figcaption {{ font-weight: 600; margin-bottom: .2rem; }}
svg.chart {{ width: 100%; max-width: 760px; height: auto; }}
ul.legend {{ list-style: none; padding: 0; margin: .2rem 0; display: flex; flex-wrap: wrap; gap: .2rem 1rem; }}
ul.legend span {{ display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem;
                 vertical-align: -1px; border-radius: 2px; }}
</style>
</head>
<body>
<h1>{heading}</h1>
{facts}
<nav>{nav}</nav>
{sections}
</body>
</html>
"""

# --- HTML and SVG pieces ------------------------------------------------------------------------------


class _Percent(float):
    """A share (0..1) shown as a percentage."""


class _Seconds(float):
    """A duration shown to a tenth of a second."""


class _Change(int):
    """A difference shown with its sign."""


def _maybe(kind: type, value: object) -> object:
    return None if value is None else kind(value)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _cut(text: str | None) -> str | None:
    if text is None or len(text) <= EXAMPLE_CHARS:
        return text
    return text[:EXAMPLE_CHARS] + "…"


def _fmt(value: object) -> str:
    """A value as text (not yet escaped): thousands separators, 4 decimals for small floats, UTC times."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, _Percent):
        return f"{value:.2%}"
    if isinstance(value, _Seconds):
        return f"{value:,.1f}"
    if isinstance(value, _Change):
        return f"{value:+,}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """An HTML table; numbers right-aligned, every cell escaped."""

    def cell(value: object) -> str:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        css = (
            ' class="num"'
            if numeric
            else ' class="raw"'
            if isinstance(value, str) and len(value) > 60
            else ""
        )
        return f"<td{css}>{_esc(_fmt(value))}</td>"

    head = "".join(f"<th>{_esc(header)}</th>" for header in headers)
    body = "\n".join("<tr>" + "".join(cell(value) for value in row) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _ticks(largest: float) -> list[float]:
    """0 and about five evenly spaced round numbers whose last one is >= `largest`."""
    if largest <= 0:
        return [0.0, 1.0]
    rough = largest / 5
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= rough)
    return [i * step for i in range(math.ceil(largest / step - 1e-9) + 1)]


def _short(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def _legend(names: Sequence[str]) -> str:
    items = "".join(
        f'<li><span style="background:{PALETTE[i % len(PALETTE)]}"></span>{_esc(name)}</li>'
        for i, name in enumerate(names)
    )
    return f'<ul class="legend">{items}</ul>'


WIDTH, LEFT, RIGHT, TOP = 760, 56, 16, 10


def line_chart(
    title: str,
    labels: Sequence[str],
    series: dict[str, list[float | None]],
    tips: Sequence[str] | None = None,
) -> str:
    """Lines over categories (runs), one per series, as inline SVG; None leaves a gap.

    `labels` name the x positions (every n-th is drawn when there are many); `tips` (default: the
    labels) say in each point's tooltip which run it is. Series past the palette's ten colours are dashed.
    """
    height, bottom = 240, 28
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - bottom
    ticks = _ticks(max((v for values in series.values() for v in values if v is not None), default=0))
    top = ticks[-1]

    def x(i: int) -> float:
        return LEFT + plot_w * (i + 0.5) / len(labels)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value / top)

    parts = []
    for tick in ticks:
        parts.append(
            f'<line stroke="#e4e4e4" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
        )
        parts.append(
            f'<text fill="#555" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{_short(tick)}</text>'
        )
    every = math.ceil(len(labels) / 10)
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(
                f'<text fill="#555" x="{x(i):.1f}" y="{height - 10}" text-anchor="middle">{_esc(label)}</text>'
            )
    tips = tips or labels
    for n, (name, values) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        dash = ' stroke-dasharray="5 3"' if n >= len(PALETTE) else ""
        path, pen_down = [], False
        for i, value in enumerate(values):
            if value is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{x(i):.1f} {y(value):.1f}")
            pen_down = True
        if len(path) > 1:
            parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        for i, value in enumerate(values):
            if value is not None:
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(value):.1f}" r="3" fill="{color}">'
                    f"<title>{_esc(name)} · {_esc(tips[i])}: {_esc(_fmt(value))}</title></circle>"
                )
    return _figure(title, height, parts, list(series))


def bar_chart(title: str, bars: Sequence[tuple[str, dict[str, float]]]) -> str:
    """Horizontal bars, one per label, stacked by series (e.g. pages per theme by method), as inline SVG."""
    names = list(dict.fromkeys(name for _, stack in bars for name in stack))
    row_h, label_w, bottom = 22, 150, 22
    height = TOP + row_h * len(bars) + bottom
    plot_w = WIDTH - label_w - RIGHT - 50  # room for the total after the bar
    ticks = _ticks(max((sum(v or 0 for v in stack.values()) for _, stack in bars), default=0))
    top = ticks[-1]
    parts = []
    for tick in ticks:
        tx = label_w + plot_w * tick / top
        parts.append(
            f'<line stroke="#e4e4e4" x1="{tx:.1f}" x2="{tx:.1f}" y1="{TOP}" y2="{height - bottom}"/>'
        )
        parts.append(
            f'<text fill="#555" x="{tx:.1f}" y="{height - 6}" text-anchor="middle">{_short(tick)}</text>'
        )
    for row, (label, stack) in enumerate(bars):
        ty = TOP + row * row_h
        shown = label if len(str(label)) <= 22 else str(label)[:21] + "…"
        parts.append(
            f'<text fill="#555" x="{label_w - 6}" y="{ty + 15}" text-anchor="end">{_esc(shown)}'
            f"<title>{_esc(label)}</title></text>"
        )
        start: float = 0  # stays an int while the values are
        for name, value in stack.items():
            if not value:
                continue
            color = PALETTE[names.index(name) % len(PALETTE)]
            parts.append(
                f'<rect x="{label_w + plot_w * start / top:.1f}" y="{ty + 3}" width="{plot_w * value / top:.1f}" '
                f'height="{row_h - 6}" fill="{color}"><title>{_esc(label)} · {_esc(name)}: {_esc(_fmt(value))}'
                "</title></rect>"
            )
            start += value
        parts.append(
            f'<text fill="#555" x="{label_w + plot_w * start / top + 4:.1f}" y="{ty + 15}">{_esc(_fmt(start))}</text>'
        )
    return _figure(title, height, parts, names if len(names) > 1 else [])


def _figure(title: str, height: int, parts: list[str], legend: Sequence[str]) -> str:
    svg = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{_esc(title)}" '
        f'font-family="system-ui, sans-serif" font-size="11" xmlns="http://www.w3.org/2000/svg">\n'
        + "\n".join(parts)
        + "\n</svg>"
    )
    return f"<figure>\n<figcaption>{_esc(title)}</figcaption>\n{svg}\n{_legend(legend) if legend else ''}</figure>"
