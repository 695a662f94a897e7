"""The checkpoint the pipeline calls: validate one gate's suites against the warehouse, rebuild the data docs.

    check(settings, run_date, run_id, "raw")    # after ingestion (step check_raw)
    check(settings, run_date, run_id, "marts")  # after the marts and the recommender (step check_marts)

How: each table is read with DuckDB into a pandas DataFrame (only the columns its suite checks) and
validated through a GX pandas data source. GX's SQL data source over `duckdb:///` fails every expectation
out of the box (GX reads results after closing the connection; ../shared/STACK.md), and the DataFrame
route keeps the checks independent of GX's SQL dialect support. The price is memory: a checked column of
10M rows is a few hundred MB. So the append-only raw tables (events, log lines) are read incrementally:
only the rows this run loaded, plus earlier rows sharing a key with them (`Suite.incremental`), and the
gate's memory follows the night's data rather than the history.

GX keeps its project (suites, validation definitions, the results of the last run) in
`<data_dir>/quality/gx/` and writes the data docs, a static site that opens from a file, to
`<data_dir>/quality/data_docs/index.html`. Each check keeps only the latest result of every suite of the
current run, so the site shows the last run: both gates once both have run.

Great Expectations takes about 10 s to import: it is imported inside `check`, never at module import.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

# No import cycle: pwh.pipeline imports this module only inside its step functions, and it has to be
# imported here because the failure below is a StepFailed.
from pwh.pipeline import StepFailed
from pwh.settings import Settings, quiet_telemetry
from pwh.warehouse import connect

log = logging.getLogger(__name__)

DATASOURCE = "pwh_warehouse"
BATCH_DEFINITION = "whole table"
DOCS_SITE = "pwh_quality"
# how many failing values a message shows (GX collects up to twice as many)
EXAMPLES = 5


class QualityCheckFailed(StepFailed):
    """A quality gate failed: the message names every failed expectation, its column and what was seen."""

    def __init__(self, message: str, summary: CheckSummary):
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class SuiteResult:
    """One suite's outcome. `rows` is None when its table was not validated (see `note`)."""

    suite: str
    rows: int | None = None
    evaluated: int = 0
    failures: tuple[str, ...] = ()
    note: str = ""

    @property
    def success(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class CheckSummary:
    """What one gate checked: every suite's result and where the data docs are."""

    gate: str
    run_id: str
    run_date: dt.date
    suites: tuple[SuiteResult, ...]
    data_docs: Path
    seconds: float = field(default=0.0, compare=False)

    @property
    def success(self) -> bool:
        return all(suite.success for suite in self.suites)

    @property
    def failures(self) -> tuple[str, ...]:
        return tuple(failure for suite in self.suites for failure in suite.failures)

    @property
    def skipped(self) -> tuple[SuiteResult, ...]:
        """Suites whose table was not there and did not have to be (a source that delivered nothing)."""
        return tuple(suite for suite in self.suites if suite.rows is None and suite.success)

    @property
    def evaluated(self) -> int:
        return sum(suite.evaluated for suite in self.suites)

    def __str__(self) -> str:
        checked = [suite for suite in self.suites if suite.rows is not None]
        if self.success:
            text = (
                f"{self.gate} checks of run {self.run_id}: {self.evaluated} expectations on "
                f"{len(checked)} tables passed"
            )
        else:
            text = (
                f"{self.gate} checks of run {self.run_id} failed ({len(self.failures)} failed, "
                f"{self.evaluated} expectations run):\n" + "\n".join(self.failures)
            )
        if self.skipped:
            text += "\nnot checked: " + "; ".join(f"{suite.suite} ({suite.note})" for suite in self.skipped)
        return text + f"\ndata docs: {self.data_docs}"


def quality_dir(settings: Settings) -> Path:
    return settings.data_dir / "quality"


def data_docs_index(settings: Settings) -> Path:
    return quality_dir(settings) / "data_docs" / "index.html"


def check(settings: Settings, run_date: dt.date, run_id: str, gate: str) -> CheckSummary:
    """Validate every suite of `gate` ("raw" or "marts") on `settings.warehouse_path`; rebuild the data docs.

    Returns the summary when every expectation passed; raises QualityCheckFailed (a StepFailed) naming each
    failed one otherwise, after the data docs show the failure. A raw table that is missing because its
    source delivered nothing is noted in the summary, not failed.
    """
    started = time.perf_counter()
    quiet_telemetry()
    from expectations.suites import suites_for

    suites = suites_for(gate)  # raises ValueError on an unknown gate; imports Great Expectations
    if not settings.warehouse_path.exists():
        raise StepFailed(
            f"{gate} checks: no warehouse at {settings.warehouse_path}: run the steps before the checks"
        )
    context = _context(quality_dir(settings))
    _forget_results(context, run_id, [suite.name for suite in suites])
    try:
        with connect(settings.warehouse_path, read_only=True) as con:
            warehouse = _Warehouse(con, run_id, run_date)
            results = tuple(_check_suite(context, warehouse, suite, run_id) for suite in suites)
    except duckdb.Error as exc:  # re-raised with the gate named; the cause stays chained
        raise StepFailed(
            f"{gate} checks: cannot read the warehouse {settings.warehouse_path}: {exc}"
        ) from exc
    _forget_suites(context, [result.suite for result in results if result.rows is None])
    docs = _build_data_docs(context, data_docs_index(settings))
    summary = CheckSummary(gate, run_id, run_date, results, docs, time.perf_counter() - started)
    if not summary.success:
        for failure in summary.failures:
            log.error("%s", failure)
        raise QualityCheckFailed(str(summary), summary)
    log.info("%s (%.1f s)", summary, summary.seconds)
    return summary


def check_raw(settings: Settings, run_date: dt.date, run_id: str) -> CheckSummary:
    """Pipeline step: the raw gate, after ingestion and the load audit."""
    return check(settings, run_date, run_id, "raw")


def check_marts(settings: Settings, run_date: dt.date, run_id: str) -> CheckSummary:
    """Pipeline step: the marts gate, after segments and training, before publishing."""
    return check(settings, run_date, run_id, "marts")


# --- reading the warehouse -------------------------------------------------------------------------


class _Warehouse:
    """The tables of the warehouse, their row counts (counted once) and this run's load audit."""

    def __init__(self, con: duckdb.DuckDBPyConnection, run_id: str, run_date: dt.date):
        self.con, self.run_id, self.run_date = con, run_id, run_date
        rows = con.execute(
            """
            select schema_name || '.' || table_name from duckdb_tables() where database_name = current_database()
            union all
            select schema_name || '.' || view_name from duckdb_views()
            where database_name = current_database() and not internal
            """
        ).fetchall()
        self.names = {name for (name,) in rows}
        self._counts: dict[str, int] = {}

    def rows_of(self, name: str) -> int | None:
        if name not in self.names:
            return None
        if name not in self._counts:
            self._counts[name] = self.con.execute(f"select count(*) from {_quoted(name)}").fetchone()[0]
        return self._counts[name]

    def columns(self, name: str) -> dict[str, str]:
        schema, table = name.split(".")
        return dict(
            self.con.execute(
                """
                select column_name, data_type from duckdb_columns()
                where database_name = current_database() and schema_name = ? and table_name = ?
                order by column_index
                """,
                [schema, table],
            ).fetchall()
        )

    def audit(self, name: str) -> tuple[int, int, list[str]]:
        """(rows read, rows kept: read and neither quarantined nor suppressed, load ids) of this run for a
        raw table; zeros outside raw schemas."""
        schema, table = name.split(".")
        if not schema.startswith("raw_") or "audit.load_audit" not in self.names:
            return 0, 0, []
        rows_read, rows_kept, load_ids = self.con.execute(
            """
            select coalesce(sum(rows_read), 0),
                coalesce(sum(rows_read - rows_quarantined - coalesce(rows_suppressed, 0)), 0),
                string_agg(load_ids, ',')
            from audit.load_audit where run_id = ? and source = ? and table_name = ?
            """,
            [self.run_id, schema.removeprefix("raw_"), table],
        ).fetchone()
        return int(rows_read), int(rows_kept), [i for i in (load_ids or "").split(",") if i]


def _quoted(name: str) -> str:
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _columns_used(expectation: Any) -> set[str]:
    used: set[str] = set()
    for attribute in ("column", "column_A", "column_B"):
        if isinstance(value := getattr(expectation, attribute, None), str):
            used.add(value)
    used.update(getattr(expectation, "column_list", None) or ())
    condition = getattr(expectation, "row_condition", None)
    if condition is not None:
        used.add(condition.column.name)  # the suites only use single-column conditions
    return used


def _frame(
    warehouse: _Warehouse, suite: Any, columns: dict[str, str], expectations: list, load_ids: list[str]
):
    """The DataFrame GX validates: the used columns of the table, plus LOADED_THIS_RUN when used; of an
    incremental suite, only this run's rows and the earlier rows sharing a unique column's value."""
    from expectations.suites import LOADED_THIS_RUN

    used = set().union(*(_columns_used(expectation) for expectation in expectations))
    select = [_quoted(column) for column in columns if column in used]
    parameters: list[object] = []
    this_run = "coalesce(list_contains(?::varchar[], _dlt_load_id), false)"
    if LOADED_THIS_RUN in used:
        if "_dlt_load_id" in columns:
            select.append(f"{this_run} as {LOADED_THIS_RUN}")
            parameters.append(load_ids)
        else:
            select.append(f"false as {LOADED_THIS_RUN}")
    if not select:  # a suite of table-level expectations only
        select = [_quoted(next(iter(columns)))]
    table = _quoted(suite.table)
    # through Arrow: DuckDB's own .df() warns on timestamptz columns with pandas 3
    query = f"select {', '.join(select)} from {table}"
    if suite.incremental and "_dlt_load_id" in columns:
        unique = [
            _quoted(expectation.column)
            for expectation in expectations
            if expectation.expectation_type == "expect_column_values_to_be_unique"
        ]
        query += f" where {this_run}"
        parameters.append(load_ids)
        for column in unique:
            query += f" or {column} in (select {column} from {table} where {this_run})"
            parameters.append(load_ids)
    return warehouse.con.execute(query, parameters).to_arrow_table().to_pandas()


# --- validating ------------------------------------------------------------------------------------


def _check_suite(context: Any, warehouse: _Warehouse, suite: Any, run_id: str) -> SuiteResult:
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    from expectations.suites import LOADED_THIS_RUN, Table

    rows_read, rows_kept, load_ids = warehouse.audit(suite.table)
    rows = warehouse.rows_of(suite.table)
    if rows is None:
        if rows_read > 0:
            return SuiteResult(
                suite.name,
                failures=(
                    f"{suite.name}: missing, though this run read {rows_read} rows for it (load audit)",
                ),
            )
        if suite.optional:
            why = "no such table: its source delivered nothing" if suite.gate == "raw" else "not built yet"
            log.info("%s: %s", suite.name, why)
            return SuiteResult(suite.name, note=why)
        return SuiteResult(suite.name, failures=(f"{suite.name}: missing from the warehouse",))

    columns = warehouse.columns(suite.table)
    table = Table(
        suite.table, columns, rows, warehouse.run_date, run_id, rows_read, rows_kept, warehouse.rows_of
    )
    expectations, failures = [], []
    for expectation in suite.build(table):
        missing = sorted(_columns_used(expectation) - set(columns) - {LOADED_THIS_RUN})
        if missing:
            config = expectation.configuration
            failures.append(
                f"{suite.name}: {_describe_target(config.type, config.kwargs)} "
                f"cannot run: column {', '.join(missing)} missing from the table"
            )
        else:
            expectations.append(expectation)
    frame = _frame(warehouse, suite, columns, expectations, load_ids)

    gx_suite = context.suites.add_or_update(gx.ExpectationSuite(name=suite.name, expectations=expectations))
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite.name, data=_batch_definition(context, suite.name), suite=gx_suite)
    )
    result = definition.run(
        batch_parameters={"dataframe": frame},
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": 2 * EXAMPLES},
        run_id=RunIdentifier(run_name=run_id),
    )
    failures += [f"{suite.name}: {describe(outcome)}" for outcome in result.results if not outcome.success]
    log.info(
        "%s: %d rows, %d checked, %d expectations, %d failed",
        suite.name, rows, len(frame), len(expectations), len(failures),
    )  # fmt: skip
    return SuiteResult(suite.name, rows, len(expectations), tuple(failures))


# --- failure messages ------------------------------------------------------------------------------

_WHAT = {
    "expect_column_values_to_be_unique": "rows with a duplicated value",
    "expect_compound_columns_to_be_unique": "rows with a duplicated combination",
    "expect_column_values_to_not_be_null": "rows null",
    "expect_column_values_to_be_in_set": "rows not in the allowed set",
    "expect_column_values_to_be_between": "rows out of range",
}


def _show(value: object) -> str:
    if isinstance(value, float) and value.is_integer():  # GX stores integer bounds as floats
        return str(int(value))
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "(" + ", ".join(f"{key}={_show(item)}" for key, item in value.items()) + ")"
    return str(value)


def _distinct(values: Iterable[object]) -> list[object]:
    seen: list[object] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _range(kwargs: dict) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        return f"{_show(low)}..{_show(high)}"
    return f">= {_show(low)}" if low is not None else f"<= {_show(high)}"


def _describe_target(kind: str, kwargs: dict) -> str:
    target = kwargs.get("column") or ", ".join(kwargs.get("column_list") or ())
    if kind.endswith("_to_be_between"):
        target = ", ".join(filter(None, [target, _range(kwargs)]))
    return f"{kind}({target})"


def describe(outcome: Any) -> str:
    """One failed GX expectation result in a line: expectation, column, what was seen, a few values."""
    config = outcome.expectation_config
    kwargs = dict(config.kwargs)
    head = _describe_target(config.type, kwargs)
    exception = outcome.exception_info or {}
    if exception.get("raised_exception"):
        message = str(exception.get("exception_message") or "").strip().splitlines()
        return f"{head} could not be evaluated: {message[0] if message else 'unknown error'}"
    result = outcome.result or {}
    if "unexpected_count" not in result:  # a table-level expectation
        unit = " rows" if config.type.startswith("expect_table_row_count") else ""
        return f"{head} failed: observed {_show(result.get('observed_value'))}{unit}"
    where = " among the rows loaded by this run" if kwargs.get("row_condition") else ""
    what = _WHAT.get(config.type, "rows unexpected")
    text = f"{head} failed: {result['unexpected_count']} of {result.get('element_count')} {what}{where}"
    examples = _distinct(result.get("partial_unexpected_list") or [])
    if examples and config.type != "expect_column_values_to_not_be_null":
        more = ", ..." if len(examples) > EXAMPLES else ""
        text += f", e.g. [{', '.join(_show(value) for value in examples[:EXAMPLES])}{more}]"
    return text


# --- the GX project and its data docs --------------------------------------------------------------


def _context(root: Path) -> Any:
    """The file-backed GX project under `root` (created on first use), progress bars off."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=root)
    if context.variables.progress_bars != ProgressBarsConfig(globally=False):
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    return context


def _batch_definition(context: Any, name: str) -> Any:
    """The whole-DataFrame batch definition of the asset `name` in the pandas data source."""
    try:
        source = context.data_sources.get(DATASOURCE)
    except KeyError:
        source = context.data_sources.add_pandas(DATASOURCE)
    if name in source.get_asset_names():
        asset = source.get_asset(name)
    else:
        asset = source.add_dataframe_asset(name)
    for definition in asset.batch_definitions:
        if definition.name == BATCH_DEFINITION:
            return definition
    return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


def _forget_results(context: Any, run_id: str, suites: list[str]) -> None:
    """Drop stored results of other runs, and of the suites about to run again: docs show the last run."""
    store = context.validation_results_store
    for key in store.list_keys():
        if key.run_id.run_name != run_id or key.expectation_suite_identifier.name in suites:
            store.remove_key(key)


def _forget_suites(context: Any, names: list[str]) -> None:
    """Remove suites (and their validation definitions) that did not run, so the docs do not list them."""
    from great_expectations.exceptions import DataContextError

    for name in names:
        for collection in (context.validation_definitions, context.suites):
            try:
                collection.delete(name)
            except DataContextError:  # not stored: nothing to forget
                pass


def _build_data_docs(context: Any, index: Path) -> Path:
    """Rebuild the static site at `index` from the stored suites and results (stale pages removed)."""
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(index.parent)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    sites = context.list_data_docs_sites()
    for other in set(sites) - {DOCS_SITE}:  # GX's default site would be a second copy under gx/uncommitted
        context.delete_data_docs_site(other)
    if DOCS_SITE not in sites:
        context.add_data_docs_site(DOCS_SITE, site)
    elif sites[DOCS_SITE] != site:
        context.update_data_docs_site(DOCS_SITE, site)
    shutil.rmtree(index.parent, ignore_errors=True)
    context.build_data_docs(site_names=[DOCS_SITE])
    if not index.exists():
        raise StepFailed(f"Great Expectations did not write its data docs to {index}")
    return index
