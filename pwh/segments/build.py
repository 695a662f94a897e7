"""The nightly segments step: who is in every segment today, since when, and how many, checked before export.

`build_segments` reads the catalogue (segments.yml), checks that `marts.person_features` has every
column its segments use, and then, in one transaction on the warehouse:

- works out today's members, segment by segment, in SQL over `marts.person_features`: a person is in
  when the enter rule holds, or when they were a member before this run and the stay rule holds
  (hysteresis); then the members of the segments named in `exclude` are taken out (their final members,
  so segments are built in the order their exclusions need);
- updates `marts.segment_history` (kept between runs): one row per person per stint in a segment, closing
  the stints of people who left and opening stints for newcomers;
- replaces `marts.segment_memberships` (today's members with the start of their stint and the values
  that put them there), `marts.segment_definitions` (the catalogue as built) and this run date's rows of
  `marts.segment_sizes` (one row per segment per run date, kept between runs for size-over-time charts);
- checks every segment's size: empty, or moved too far since the previous run date (`SizeCheck`).
  A failed check rolls the whole transaction back and raises `SegmentSizeError`: the tables stay as the
  last good run left them and nothing new is exported.

Time: the run date is the day the data covers, so memberships hold "as of" the end of that day,
`run_date + 1 day` at 00:00 UTC (`as_of`); that moment is the `entered_at` of a stint opened by the
run and the `exited_at` of one it closes. Nothing here reads the wall clock.

Reruns: a run first undoes what runs for its date or a later date did to the history (stints they opened
are deleted, stints they closed are reopened), then applies its own date. Repeating a run gives the same
tables; running an earlier date again (a backfill) rewinds the history to that date, and the later dates'
runs rebuild it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pwh.pipeline import StepFailed
from pwh.segments.catalogue import DEFAULT_SEGMENTS_PATH, Segment, SegmentError, load_segments
from pwh.segments.features import DEFAULT_FEATURES
from pwh.segments.rules import compile_rule
from pwh.settings import Settings

log = logging.getLogger(__name__)


class SegmentBuildError(StepFailed):
    """The segments step cannot run: a bad catalogue, or features missing from the warehouse."""


class SegmentSizeError(SegmentBuildError):
    """Segment sizes failed their checks; `problems` holds one line per segment. Nothing was changed."""

    def __init__(self, run_date: dt.date, problems: list[str]):
        self.problems = tuple(problems)
        listed = "\n".join(f"- {problem}" for problem in problems)
        super().__init__(
            f"segments: size checks failed for the run of {run_date.isoformat()}, so nothing was exported "
            f"and the segment tables were left as the last good run made them:\n{listed}\n"
            "If the change is expected, raise the segment's bound in the size_checks section of segments.yml."
        )


@dataclass(frozen=True)
class SegmentSize:
    """One segment after a run: `previous` is its size on the previous run date (None on its first run)."""

    name: str
    members: int
    entered: int
    exited: int
    previous: int | None
    previous_run_date: dt.date | None
    history_days: int = 0  # days from the first run date with segment sizes to this run's


@dataclass(frozen=True)
class SegmentsSummary:
    run_id: str
    run_date: dt.date
    as_of: dt.datetime  # entered_at / exited_at of the stints this run opened or closed
    sizes: tuple[SegmentSize, ...]

    @property
    def memberships(self) -> int:
        return sum(size.members for size in self.sizes)


def as_of(run_date: dt.date) -> dt.datetime:
    """The moment a run's memberships hold: the end of the run date, as a naive UTC timestamp."""
    return dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time())


def build_segments(
    settings: Settings,
    run_date: dt.date,
    run_id: str,
    segments_path: str | Path | None = None,
    *,
    check_sizes: bool = True,
) -> SegmentsSummary:
    """Build memberships, history and sizes for every segment in the catalogue (see the module docstring).

    `check_sizes=False` records the sizes without failing on them (for a run an operator has looked at).
    Raises SegmentBuildError for a bad catalogue or missing features, SegmentSizeError for failed checks.
    """
    from pwh.warehouse import connect, transaction

    path = Path(segments_path) if segments_path is not None else DEFAULT_SEGMENTS_PATH
    try:
        segments = load_segments(path)
    except SegmentError as error:
        raise SegmentBuildError(f"segments: {error}") from error
    ordered = _exclusion_order(segments)
    moment = as_of(run_date)

    with connect(settings.warehouse_path) as con:
        _check_features(con, segments)
        with transaction(con):
            _prepare(con, moment)
            for segment in ordered:
                con.execute(_members_sql(segment), {"name": segment.name, "exclude": list(segment.exclude)})
            sizes = _record(con, segments, run_date, run_id, moment)
            problems = _size_problems(segments, sizes)
            if problems and check_sizes:
                raise SegmentSizeError(run_date, problems)
            for problem in problems:
                log.warning("segments: size check not enforced: %s", problem)
            con.execute("drop table segment_members")

    summary = SegmentsSummary(run_id=run_id, run_date=run_date, as_of=moment, sizes=sizes)
    log.info(
        "segments: %d segments, %d memberships as of %s", len(sizes), summary.memberships, moment.isoformat()
    )
    return summary


def _exclusion_order(segments: list[Segment]) -> list[Segment]:
    """Segments ordered so that every segment comes after those it excludes (the catalogue has no cycles)."""
    by_name = {segment.name: segment for segment in segments}
    ordered: dict[str, Segment] = {}

    def visit(segment: Segment) -> None:
        if segment.name not in ordered:
            for other in segment.exclude:
                visit(by_name[other])
            ordered[segment.name] = segment

    for segment in segments:
        visit(segment)
    return list(ordered.values())


def _used_features(segment: Segment) -> list[str]:
    used = compile_rule(segment.rule, DEFAULT_FEATURES).features
    if segment.stay_rule:
        used += compile_rule(segment.stay_rule, DEFAULT_FEATURES).features
    return list(dict.fromkeys(used + segment.value_features))


def _check_features(con, segments: Iterable[Segment]) -> None:
    """Fail before anything runs when `marts.person_features` lacks a column that a segment uses."""
    columns = {
        name
        for (name,) in con.execute(
            """
            select column_name from duckdb_columns()
            where database_name = current_database() and schema_name = 'marts' and table_name = 'person_features'
            """
        ).fetchall()
    }
    if not columns:
        raise SegmentBuildError(
            "segments: the warehouse has no marts.person_features table: run the marts step (dbt) first"
        )
    missing = [
        f"{segment.name}: {', '.join(lacking)}"
        for segment in segments
        if (lacking := [name for name in _used_features(segment) if name not in columns])
    ]
    if missing:
        listed = "\n".join(f"- {line}" for line in missing)
        raise SegmentBuildError(
            f"segments: marts.person_features has no column for features that {len(missing)} segment(s) use; "
            f"rebuild the marts (dbt) or change these segments in segments.yml:\n{listed}"
        )


def _prepare(con, moment: dt.datetime) -> None:
    """Create the kept tables if missing, and undo what runs for this date or later did to them."""
    con.execute(
        """
        create schema if not exists marts;
        create table if not exists marts.segment_history (
            person_id varchar not null,
            segment_name varchar not null,
            entered_at timestamp not null,
            exited_at timestamp,
            entered_run_id varchar not null,
            exited_run_id varchar
        );
        create table if not exists marts.segment_sizes (
            run_id varchar not null,
            run_date date not null,
            segment_name varchar not null,
            members bigint not null,
            entered bigint not null,
            exited bigint not null
        );
        create or replace temp table segment_members (
            person_id varchar not null,
            segment_name varchar not null,
            rule_values varchar not null
        );
        """
    )
    later = con.execute(
        "select count(*) from marts.segment_history where entered_at > $at or exited_at > $at", {"at": moment}
    ).fetchone()[0]
    if later:
        log.warning(
            "segments: the history has %d stints from runs after %s; rewinding it to this run date",
            later,
            moment.date() - dt.timedelta(days=1),
        )
    con.execute("delete from marts.segment_history where entered_at >= $at", {"at": moment})
    con.execute(
        "update marts.segment_history set exited_at = null, exited_run_id = null where exited_at >= $at",
        {"at": moment},
    )


def _members_sql(segment: Segment) -> str:
    """Insert the segment's members today into segment_members; $name and $exclude are parameters.

    The rule SQL comes from the rule compiler (quoted feature names, re-printed literals), so it is safe
    to splice in; it is the only rule text here, and it reads the one table in the outer query.
    """
    enter = segment.enter_sql
    if segment.stay_sql is None:
        qualifies = enter
    else:
        qualifies = f"""{enter}
            or (
                {segment.stay_sql}
                and exists (
                    select 1
                    from marts.segment_history as stints
                    where stints.person_id = features.person_id
                        and stints.segment_name = $name
                        and stints.exited_at is null
                )
            )"""
    # value_features are catalogue names, plain [A-Za-z0-9_] words checked by load_segments
    values = ", ".join(f"'{name}', features.\"{name}\"" for name in segment.value_features)
    return f"""
        insert into segment_members
        select
            features.person_id,
            $name as segment_name,
            json_object({values})::varchar as rule_values,
        from marts.person_features as features
        where (
            {qualifies}
        )
        and not exists (
            select 1
            from segment_members as excluded
            where excluded.person_id = features.person_id
                and list_contains($exclude::varchar[], excluded.segment_name)
        )
    """


def _record(
    con, segments: list[Segment], run_date: dt.date, run_id: str, moment: dt.datetime
) -> tuple[SegmentSize, ...]:
    """Write history, memberships, definitions and sizes from segment_members; return the sizes."""
    at = {"at": moment, "run_id": run_id}
    con.execute(
        """
        update marts.segment_history as stints
        set exited_at = $at, exited_run_id = $run_id
        where stints.exited_at is null
            and not exists (
                select 1
                from segment_members as members
                where members.person_id = stints.person_id and members.segment_name = stints.segment_name
            )
        """,
        at,
    )
    con.execute(
        """
        insert into marts.segment_history
        select members.person_id, members.segment_name, $at, null, $run_id, null
        from segment_members as members
        where not exists (
            select 1
            from marts.segment_history as stints
            where stints.person_id = members.person_id
                and stints.segment_name = members.segment_name
                and stints.exited_at is null
        )
        order by members.segment_name, members.person_id
        """,
        at,
    )
    con.execute(
        """
        create or replace table marts.segment_memberships as
        select
            members.person_id,
            members.segment_name,
            stints.entered_at,
            members.rule_values,
            $run_id as run_id,
        from segment_members as members
        inner join marts.segment_history as stints
            on members.person_id = stints.person_id
            and members.segment_name = stints.segment_name
            and stints.exited_at is null
        order by members.segment_name, members.person_id
        """,
        {"run_id": run_id},
    )
    con.execute(
        """
        create or replace table marts.segment_definitions (
            segment_name varchar not null,
            description varchar not null,
            owner varchar not null,
            rule varchar not null,
            stay_rule varchar,
            priority integer not null,
            exclude varchar[] not null,
            value_features varchar[] not null,
            allow_empty boolean not null,
            max_daily_change double not null,
            change_tolerance integer not null,
            run_id varchar not null,
            run_date date not null
        )
        """
    )
    con.executemany(
        "insert into marts.segment_definitions values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                segment.name, segment.description, segment.owner, segment.rule, segment.stay_rule,
                segment.priority, list(segment.exclude), list(segment.value_features),
                segment.size_check.allow_empty, segment.size_check.max_daily_change,
                segment.size_check.change_tolerance, run_id, run_date,
            ]
            for segment in sorted(segments, key=lambda segment: segment.name)
        ],
    )  # fmt: skip
    con.execute("delete from marts.segment_sizes where run_date = $run_date", {"run_date": run_date})
    con.execute(
        """
        insert into marts.segment_sizes
        select
            $run_id,
            $run_date,
            definitions.segment_name,
            (select count(*) from segment_members as members
             where members.segment_name = definitions.segment_name),
            (select count(*) from marts.segment_history as stints
             where stints.segment_name = definitions.segment_name and stints.entered_at = $at),
            (select count(*) from marts.segment_history as stints
             where stints.segment_name = definitions.segment_name and stints.exited_at = $at),
        from marts.segment_definitions as definitions
        order by definitions.segment_name
        """,
        {**at, "run_date": run_date},
    )
    rows = con.execute(
        """
        with previous as (
            select segment_name, max_by(members, run_date) as members, max(run_date) as run_date
            from marts.segment_sizes
            where run_date < $run_date
            group by segment_name
        )
        select
            sizes.segment_name, sizes.members, sizes.entered, sizes.exited, previous.members, previous.run_date,
            datediff('day', (select min(run_date) from marts.segment_sizes), sizes.run_date)
        from marts.segment_sizes as sizes
        left join previous
            on sizes.segment_name = previous.segment_name
        where sizes.run_date = $run_date
        order by sizes.segment_name
        """,
        {"run_date": run_date},
    ).fetchall()
    return tuple(SegmentSize(*row) for row in rows)


def _size_problems(segments: list[Segment], sizes: Iterable[SegmentSize]) -> list[str]:
    """One line per segment whose size fails its SizeCheck, with the numbers."""
    checks = {segment.name: segment.size_check for segment in segments}
    problems = []
    for size in sizes:
        check = checks[size.name]
        if size.members == 0 and not check.allow_empty:
            was = f" (it had {size.previous} on {size.previous_run_date})" if size.previous else ""
            problems.append(f"{size.name}: empty, 0 members{was}; allow_empty is false")
        elif size.previous is not None and size.history_days >= check.warmup_days:
            change = size.members - size.previous
            share = abs(change) / size.previous if size.previous else float("inf")
            if share > check.max_daily_change and abs(change) > check.change_tolerance:
                shown = f"{share:.0%}" if size.previous else "from 0"
                problems.append(
                    f"{size.name}: {size.previous} -> {size.members} members since {size.previous_run_date} "
                    f"({change:+d}, {shown}); the bound is {check.max_daily_change:.0%} "
                    f"and more than {check.change_tolerance} people"
                )
    return problems
