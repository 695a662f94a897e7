"""`pwh`: the command line analysts, marketers and engineers use (Typer + Rich)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from pwh.settings import Settings, load_settings, quiet_telemetry

app = typer.Typer(
    help="pwh, the personalization warehouse: raw customer data -> profiles, segments, recommendations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
log = logging.getLogger("pwh")

DateOption = Annotated[
    dt.datetime | None,
    typer.Option("--date", formats=["%Y-%m-%d"], help="The run's logical date (default: today, UTC)."),
]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logs.")] = False) -> None:
    quiet_telemetry()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, show_time=False)],
    )
    for noisy in ("dlt", "sqlalchemy", "fsspec", "urllib3", "numexpr"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _run_date(value: dt.datetime | None) -> dt.date:
    return value.date() if value else dt.datetime.now(dt.UTC).date()


def _settings() -> Settings:
    """Settings of every command that runs or inspects pipeline steps: its private build warehouse.

    Only `pwh query` and the summary after `pwh run` read the published warehouse (`load_settings()`).
    """
    from pwh.publish import build_settings

    return build_settings(load_settings())


# `pwh query --role`: which published file it reads. On the embedded default the file's permissions are
# the role (DuckDB has no users or grants): the full one is readable by its owner and group only.
ROLES = {
    "analyst": "the analyst warehouse (marts, direct identifiers masked)",
    "full": "the full warehouse (every schema, direct identifiers included)",
}


def _role_path(settings: Settings, role: str) -> Path:
    return settings.analyst_warehouse_path if role == "analyst" else settings.warehouse_path


def _published(role: str = "full") -> Settings:
    """Settings of the commands that read what a run published: the role's file must exist and be readable.

    `full` (segment exports, the report: they need contact fields or raw tables) or `analyst`.
    """
    import os

    settings = load_settings()
    path = _role_path(settings, role)
    if not path.exists():
        hint = "run `pwh run` first"
        if role == "analyst" and settings.warehouse_path.exists():
            hint = "the last publish predates it: run `pwh publish` (or `pwh run`)"
        console.print(f"[bold red]error:[/] nothing is published at {path} yet: {hint}")
        raise typer.Exit(1)
    if not os.access(path, os.R_OK):
        advice = (
            "Only its owner and group may read it: leave out --role full to query the analyst warehouse, "
            "or ask for the full role."
            if role == "full"
            else "Ask whoever runs pwh for read access."
        )
        console.print(f"[bold red]error:[/] cannot read {path}: permission denied. It is {ROLES[role]}.")
        console.print(advice)
        raise typer.Exit(1)
    return settings


@contextmanager
def _failures(then: str | None = None) -> Iterator[None]:
    """Turn expected failures into one red line (and `then`, what to do next) and exit code 1
    instead of a traceback."""
    import duckdb

    from pwh.pipeline import StepFailed

    try:
        yield
    except (StepFailed, FileNotFoundError, ValueError, duckdb.Error) as exc:
        console.print(f"[bold red]error:[/] {exc}")
        if then:
            console.print(then)
        raise typer.Exit(1) from exc


def _timed(label: str, work: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    with console.status(f"{label}…"):
        result = work()
    console.print(f"[green]✓[/] {label} [dim]({time.perf_counter() - started:.1f} s)[/]")
    return result


@app.command()
def generate(
    users: Annotated[int, typer.Option(min=1, help="Number of people.")] = 2000,
    days: Annotated[int, typer.Option(min=1, help="Days of events and logs.")] = 14,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 42,
    start_date: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="First day.")] = "2026-01-01",
    bad_share: Annotated[float, typer.Option(min=0, max=0.5, help="Share of deliberately bad rows.")] = 0.005,
) -> None:
    """Write realistic sample sources (with ground truth in _truth/) into the landing zone."""
    from pwh.generate import generate as write_sample

    settings = load_settings()
    with _failures():
        summary = _timed(
            f"generating {users} people x {days} days into {settings.landing_dir}",
            lambda: write_sample(
                settings.landing_dir, users=users, days=days, seed=seed, start_date=start_date.date(),
                bad_share=bad_share,
            ),
        )  # fmt: skip
    table = Table("output", "rows", title="generated")
    for name, value in vars(summary).items():
        table.add_row(name, f"{value:,}" if isinstance(value, int) else str(value))
    out.print(table)


@app.command()
def ingest(
    date: DateOption = None,
    source: Annotated[list[str] | None, typer.Option(help="Only this source (repeatable).")] = None,
) -> None:
    """Load new landing data into the raw lake and the raw schemas."""
    from pwh.pipeline import ingest as ingest_step
    from pwh.pipeline import new_run_id

    settings, run_date = _settings(), _run_date(date)
    with _failures():
        rows = _timed(
            "ingest", lambda: ingest_step(settings, run_date, new_run_id(run_date), tuple(source or ()))
        )
    _print_audit(rows)


@app.command()
def validate(
    run_id: Annotated[str | None, typer.Option(help="Run to check (default: latest).")] = None,
) -> None:
    """Check that the load audit adds up: every row read was loaded or quarantined."""
    from pwh.pipeline import check_load_audit
    from pwh.warehouse import connect

    settings = _settings()
    with _failures():
        if run_id is None:
            with connect(settings.warehouse_path, read_only=True) as con:
                row = con.execute(
                    "select run_id, run_date from audit.load_audit order by finished_at desc limit 1"
                ).fetchone()
            if row is None:
                raise ValueError("the load audit is empty: run `pwh ingest` first")
            run_id, run_date = row
        else:
            run_date = dt.date.fromisoformat(run_id[:10])
        checked = check_load_audit(settings, run_date, run_id)
    console.print(f"[green]✓[/] load audit of run {run_id} adds up ({checked} source tables)")


@app.command()
def transform(date: DateOption = None) -> None:
    """Build and test the dbt models (staging, intermediate, marts)."""
    from pwh.pipeline import new_run_id
    from pwh.pipeline import transform as transform_step

    settings, run_date = _settings(), _run_date(date)
    with _failures():
        _timed("dbt build", lambda: transform_step(settings, run_date, new_run_id(run_date)))


@app.command()
def train(date: DateOption = None) -> None:
    """Train and evaluate the recommender; publish it only if it beats the popularity baseline."""
    from pwh.pipeline import new_run_id
    from pwh.pipeline import train as train_step

    settings, run_date = _settings(), _run_date(date)
    with _failures():
        summary = _timed("train", lambda: train_step(settings, run_date, new_run_id(run_date)))
    _print_model_run(summary)


dedupe_app = typer.Typer(help="Deduplication of CRM customer records (dedupe).", no_args_is_help=True)
app.add_typer(dedupe_app, name="dedupe")


@dedupe_app.command("evaluate")
def dedupe_evaluate() -> None:
    """Pairwise precision/recall of the current clusters against a generated landing zone's _truth/."""
    from models_ml.crm_clusters import evaluate

    settings = _settings()
    with _failures():
        precision, recall, evaluated = evaluate(settings, f"evaluate-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}")
    out.print(f"dedupe on {evaluated:,} customers: pairwise precision {precision:.4f}, recall {recall:.4f}")


@dedupe_app.command("label")
def dedupe_label() -> None:
    """Label record pairs at the console; they are added to the committed training pairs."""
    from models_ml.crm_clusters import customers
    from models_ml.dedupe import TRAINING_PAIRS, label_interactively

    settings = _settings()
    with _failures():
        added = label_interactively(customers(settings).to_pylist(), TRAINING_PAIRS)
    out.print(f"{added} labelled pair(s) added to {TRAINING_PAIRS}; run `pwh dedupe train` to use them")


@dedupe_app.command("train")
def dedupe_train() -> None:
    """Rebuild the dedupe settings from the labelled pairs and a sample of the warehouse's customers."""
    from models_ml.crm_clusters import customers
    from models_ml.dedupe import retrain

    settings = _settings()
    with _failures():
        path = _timed("dedupe training", lambda: retrain(customers(settings).to_pylist()))
    out.print(f"settings written to {path}; check them with benchmarks/dedupe_crm.py before committing")


identity_app = typer.Typer(help="Identity stitching: which identifiers are one person.", no_args_is_help=True)
app.add_typer(identity_app, name="identity")


@identity_app.command("evaluate")
def identity_evaluate() -> None:
    """Pairwise precision/recall of the identity map against a generated landing zone's _truth/."""
    from models_ml.identities import evaluate

    settings = _settings()
    with _failures():
        result = evaluate(settings, f"evaluate-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}")
    out.print(
        f"identity on {result.evaluated:,} identifiers: pairwise precision {result.precision:.4f}, "
        f"recall {result.recall:.4f}, recall of the pairs the data links {result.linkable_recall:.4f}"
    )


themes_app = typer.Typer(help="Page themes: pages classified by semantic similarity.", no_args_is_help=True)
app.add_typer(themes_app, name="themes")


@themes_app.command("evaluate")
def themes_evaluate() -> None:
    """Accuracy of the page themes against a generated landing zone's _truth/pages.parquet."""
    from models_ml.page_themes import evaluate

    settings = _settings()
    with _failures():
        metrics = evaluate(settings, f"evaluate-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}").metrics

    def percent(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    out.print(
        f"page themes (model, before manual rules) on {metrics.evaluated_pages:,} of {metrics.truth_pages:,} "
        f"known pages: accuracy {percent(metrics.accuracy)}, coverage {percent(metrics.coverage)}, "
        f"precision {percent(metrics.precision)}"
    )


segments_app = typer.Typer(help="Marketing segments: list them, export their members.", no_args_is_help=True)
app.add_typer(segments_app, name="segments")


@segments_app.command("list")
def segments_list() -> None:
    """Every segment of the published warehouse: size and change since the previous run."""
    from pwh.segments.export import list_segments

    settings = _published()
    with _failures():
        listings = list_segments(settings)
    table = Table("segment", "members", "change", "entered", "exited", "description", title="segments")
    for item in listings:
        change = "new" if item.change is None else f"{item.change:+,}"
        table.add_row(
            item.name, f"{item.members:,}", change, f"{item.entered:,}", f"{item.exited:,}", item.description
        )
    out.print(table)


@segments_app.command("export")
def segments_export(
    name: Annotated[str, typer.Argument(help="Segment to export (see `pwh segments list`).")],
    out_path: Annotated[str, typer.Option("--out", help="CSV file to write.")],
    include_no_consent: Annotated[
        bool, typer.Option("--include-no-consent", help="Also people without marketing consent.")
    ] = False,
) -> None:
    """Write a segment's members (person_id, email, first name, entered_at, rule values) to a CSV file."""
    from pwh.segments.export import export_segment

    settings = _published()
    with _failures():
        summary = export_segment(settings, name, out_path, include_no_consent)
    left_out = "" if include_no_consent else f" ({summary.left_out:,} without marketing consent left out)"
    out.print(f"{summary.rows:,} people of {summary.segment} written to {summary.path}{left_out}")


@app.command()
def run(date: DateOption = None) -> None:
    """The whole nightly pipeline: every step in order, then a summary of what is in the warehouse."""
    results = _run_pipeline(_settings(), _run_date(date))
    _print_audit(results["ingest"])
    _print_model_run(results["train"])
    _print_publish(results["publish"])
    _print_summary(load_settings())
    out.print(f"Run report: {results['report']}")
    out.print(f"dbt docs:   {results['docs']}")


@app.command()
def backfill(
    start: Annotated[dt.datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First logical date.")],
    end: Annotated[dt.datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last logical date.")],
) -> None:
    """Run the nightly pipeline for every date from --from to --to, oldest first, as the nights would have.

    Each run loads the landing files up to its own date. Stops at the first failed date; run the command
    again from that date once it is fixed.
    """
    if end < start:
        console.print(f"[bold red]error:[/] --to {end.date()} is before --from {start.date()}")
        raise typer.Exit(2)
    settings = _settings()
    days = [start.date() + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    for number, day in enumerate(days, 1):
        console.print(f"[bold]backfill {number}/{len(days)}[/]: {day}")
        results = _run_pipeline(
            settings, day, on_failure=f"backfill stopped at {day}: rerun with --from {day}"
        )
        _print_publish(results["publish"])
    _print_summary(load_settings())


def _run_pipeline(settings: Settings, run_date: dt.date, on_failure: str | None = None) -> dict[str, Any]:
    """Every step of the pipeline for one date, with progress; a failure exits with the step's error."""
    from pwh.pipeline import STEPS, new_run_id

    run_id = new_run_id(run_date)
    console.print(
        f"run [bold]{run_id}[/] for {run_date} · building {settings.warehouse_path}, "
        f"publishing to {settings.published_path}"
    )
    results = {}
    with _failures(on_failure):
        for step in STEPS:
            results[step.name] = _timed(
                f"{step.name}: {step.description}", lambda s=step: s.run(settings, run_date, run_id)
            )
    return results


@app.command()
def publish(date: DateOption = None) -> None:
    """Publish the build warehouse (what the single-step commands built) to the one analysts read."""
    from pwh.pipeline import new_run_id
    from pwh.pipeline import publish as publish_step

    settings, run_date = _settings(), _run_date(date)
    with _failures():
        summary = _timed("publish", lambda: publish_step(settings, run_date, new_run_id(run_date)))
    _print_publish(summary)


@app.command()
def report(date: DateOption = None) -> None:
    """Write the HTML run report of the latest run published on or before the date (default: today)."""
    from pwh.report import write_report

    settings = _published()
    with _failures():
        path = write_report(settings, _run_date(date))
    out.print(f"Open {path} in a browser.")


@app.command()
def airflow(
    port: Annotated[int, typer.Option(help="Port of the UI and REST API (on 127.0.0.1).")] = 8080,
) -> None:
    """Start Airflow locally with the nightly DAG: UI and REST API on 127.0.0.1, login required."""
    import os

    from pwh.airflow_local import (
        PASSWORDS_FILE,
        admin_password,
        airflow_env,
        airflow_home,
        create_warehouse_pool,
    )

    settings = load_settings()
    env = airflow_env(settings, port)
    airflow_home(settings).mkdir(parents=True, exist_ok=True)
    known = admin_password(settings)
    console.print(
        f"Airflow at [bold]http://127.0.0.1:{port}[/] (ready after ~40 s), DAG pwh_nightly, user [bold]admin[/]; "
        + (
            f"password in {airflow_home(settings) / PASSWORDS_FILE}"
            if known
            else "Airflow prints the generated password once below and keeps it in "
            f"{airflow_home(settings) / PASSWORDS_FILE}"
        )
        + ". Stop with Ctrl-C."
    )
    try:
        create_warehouse_pool(env)
    except RuntimeError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    executable = str(Path(sys.executable).parent / "airflow")
    os.execve(executable, [executable, "standalone"], env)


@app.command()
def docs() -> None:
    """Build dbt's documentation site (lineage, every model and column) as one HTML file."""
    from pwh.pipeline import docs as build_docs

    settings = _settings()
    with _failures():
        site = _timed("dbt docs generate", lambda: build_docs(settings, _run_date(None), ""))
    out.print(f"Open {site} in a browser.")


@app.command()
def forget(
    email: Annotated[str | None, typer.Option(help="The person's email.")] = None,
    person_id: Annotated[
        str | None, typer.Option(help="The person's person_id (marts.user_identities).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be erased; change nothing.")
    ] = False,
) -> None:
    """Erase a person (every identifier stitched to them) from everything pwh writes; suppress later loads."""
    from pwh.forget import forget as forget_person
    from pwh.forget import summary_counts

    settings = load_settings()
    with _failures():  # pwh.forget.ForgetError is a ValueError: one red line
        erasure = _timed(
            "finding the person" if dry_run else "forgetting the person",
            lambda: forget_person(settings, email=email, person_id=person_id, dry_run=dry_run),
        )
    verb = "would remove" if dry_run else "removed"
    identifiers = ", ".join(f"{count} {kind}" for kind, count in erasure.identifiers.items() if count)
    table = Table("where", f"rows {verb}", title=f"{erasure.erasure_id} ({identifiers})")
    for place, rows in sorted(summary_counts(erasure).items()):
        table.add_row(place, f"{rows:,}")
    out.print(table)
    for label, paths in (
        ("export files that held the person (copies sent on are not reached)", erasure.export_files),
        ("files with the identifiers replaced", erasure.redacted),
        ("files deleted", erasure.deleted),
        ("run reports rendered again", erasure.rendered),
        ("files that still mention the person: clean them by hand", erasure.left),
    ):
        if paths:
            out.print(f"{label}:\n  " + "\n  ".join(paths))
    if dry_run:
        out.print("Dry run: nothing changed. Run again without --dry-run to erase.")
    else:
        out.print(
            f"{erasure.rows_removed:,} rows removed, {len(erasure.rewritten)} files rewritten; "
            f"{erasure.suppressed} identifier(s) added to the suppression list; logged as {erasure.erasure_id} "
            "(docs/privacy.md)"
        )


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL to run against the warehouse (read-only).")],
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="full: every schema, direct identifiers included (readable by owner and group only); "
            "analyst: the marts with emails, phones and names masked. Default: full if you may read it, "
            "else analyst.",
        ),
    ] = None,
) -> None:
    """Run read-only SQL against the warehouse, e.g. `pwh query "select * from marts.daily_activity"`."""
    import os

    from pwh.warehouse import connect

    if format not in ("table", "csv", "json"):
        console.print(f"[bold red]error:[/] unknown format {format!r}: use table, csv or json")
        raise typer.Exit(2)
    if role is None:  # the file's permissions are the role: whoever may read the full file is allowed to
        full = load_settings().warehouse_path
        role = "full" if not full.exists() or os.access(full, os.R_OK) else "analyst"
    if role not in ROLES:
        console.print(f"[bold red]error:[/] unknown role {role!r}: use {' or '.join(ROLES)}")
        raise typer.Exit(2)
    settings = _published(role)
    with _failures(), connect(_role_path(settings, role), read_only=True) as con:
        result = con.sql(sql)
        if result is None:
            return
        columns, rows = result.columns, result.fetchall()
    if format == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif format == "json":
        out.print_json(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str))
    else:
        table = Table(*columns)
        for row in rows:
            table.add_row(*("" if value is None else str(value) for value in row))
        out.print(table)


def _print_audit(rows) -> None:
    table = Table("source", "table", "files", "read", "loaded", "quarantined", "balanced", title="load audit")
    for row in rows:
        table.add_row(
            row.source, row.table_name, f"{row.files_read:,}", f"{row.rows_read:,}", f"{row.rows_loaded:,}",
            f"{row.rows_quarantined:,}", "[green]yes[/]" if row.is_balanced else "[red]NO[/]",
        )  # fmt: skip
    out.print(table)


def _print_model_run(summary) -> None:
    verdict = "[green]published[/]" if summary.is_published else "[yellow]not published[/]"
    out.print(f"recommender {summary.model_version}: {verdict} ({summary.reason})")


def _print_publish(summary) -> None:
    out.print(
        f"published run {summary.run_id} to {summary.path}: {summary.table_count} tables, "
        f"{summary.view_count} views, {summary.size_bytes / 1e6:,.1f} MB copied in {summary.copy_seconds:.1f} s"
    )


def _print_summary(settings: Settings) -> None:
    from pwh.warehouse import connect, table_counts

    table = Table("schema", "table", "rows", title="warehouse")
    with connect(settings.warehouse_path, read_only=True) as con:
        for schema, name, rows in table_counts(con):
            table.add_row(schema, name, f"{rows:,}")
    out.print(table)
    out.print(
        f"Warehouse: [bold]{settings.warehouse_path}[/] (open it read-only with duckdb, or:)\n"
        '  pwh query "select * from marts.daily_activity order by activity_date desc limit 10"\n'
        '  pwh query "select * from marts.load_audit" --format csv'
    )


if __name__ == "__main__":
    app()
