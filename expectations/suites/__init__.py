"""The suites: one per dataset (a warehouse table), each a function from what the table holds to its expectations.

A suite is built at check time rather than stored once, because a few expectations depend on the run
(time bounds end at the run date), on the run's load audit (a table a source delivered rows to must not
be empty) or on the table's columns (one interest column per page theme). GX stores the suite that was
built with each validation result, so the data docs show exactly what was checked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Gate = Literal["raw", "marts"]
GATES: tuple[Gate, ...] = ("raw", "marts")

# Raw tables get this boolean column when they are read: true for the rows loaded by this run
# (their `_dlt_load_id` is one of the run's loads in audit.load_audit). Expectations about values a run
# can only get wrong when it loads them (timestamps relative to the run date) use it as a row condition,
# so that running an earlier date again does not fail on rows later runs loaded.
LOADED_THIS_RUN = "loaded_this_run"


@dataclass(frozen=True)
class Table:
    """What a suite may know about the table it checks, read from the warehouse before the suite is built."""

    name: str  # schema.table
    columns: Mapping[str, str]  # column name -> DuckDB type
    rows: int
    run_date: dt.date
    run_id: str
    # from audit.load_audit for this run and table (raw tables only; 0 for marts)
    rows_read_this_run: int = 0
    rows_kept_this_run: int = 0  # read and neither quarantined nor suppressed: what should have loaded
    # rows of other tables of the warehouse (None: no such table), for expectations such as
    # "segment memberships are not empty when there are people"
    rows_of: Callable[[str], int | None] = field(default=lambda name: None, repr=False)


@dataclass(frozen=True)
class Suite:
    """One dataset's suite: the table it checks (also the GX suite's name) and how to build it."""

    table: str
    gate: Gate
    build: Callable[[Table], list]  # -> list of great_expectations.expectations.Expectation
    # A missing table is reported, not failed: raw tables of a source that delivered nothing, marts
    # that only exist after some runs (recommendations appear once a model beats the baseline).
    # A raw table the run's load audit says rows were read for fails when missing all the same.
    optional: bool = False
    # An append-only table (events, log lines) grows every night: only the rows this run loaded are read,
    # plus the earlier rows sharing a value of a column expected unique, so that a check's memory follows
    # the night's data, not the history, and a key repeated across runs still fails.
    incremental: bool = False

    @property
    def name(self) -> str:
        return self.table


def all_suites() -> tuple[Suite, ...]:
    """Every suite of both gates, in the order they run (imports Great Expectations)."""
    from expectations.suites import (
        marts_identity,
        marts_profiles,
        marts_recommendations,
        marts_segments,
        raw_catalog,
        raw_crm,
        raw_events,
        raw_logs,
    )

    modules = (raw_events, raw_crm, raw_logs, raw_catalog)
    modules += (marts_identity, marts_profiles, marts_segments, marts_recommendations)
    return tuple(suite for module in modules for suite in module.SUITES)


def suites_for(gate: str) -> tuple[Suite, ...]:
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}; gates are {', '.join(GATES)}")
    return tuple(suite for suite in all_suites() if suite.gate == gate)
