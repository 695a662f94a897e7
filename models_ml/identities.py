"""The nightly identity step: identifiers seen together -> people with stable ids (`ml.identity_map`).

Reads `intermediate.int_identifiers_observed` (which identifiers each CRM record, event combination and
log cookie showed, junk values already removed) and the dedupe clusters (`ml.crm_customer_clusters`),
builds the identity graph and stitches it (`models_ml.identity.graph`, guarded against over-merging).

person_id is derived from the person's canonical identifier, the first of its identifiers in the order
customer_id, user_id, anonymous_id, email, then earliest first seen, then value. The id is therefore a
pure function of the person's identifiers: a rebuild from scratch gives the same ids, and when two
people merge the merged person keeps the id of one of them. The other is written to `ml.person_merges`
(comparing with the previous run's map), so analysts can follow old ids.

`evaluate` measures pairwise precision and recall of "these identifiers are the same person" against a
generated landing zone's truth (`_truth/identifiers.parquet`); the nightly run never reads the truth.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from models_ml.identity import (
    ACCOUNT_KINDS,
    AMBIGUOUS,
    CANONICAL_ORDER,
    GUARD_NAMES,
    SHARED,
    components,
    stitch,
)
from pwh.settings import Settings
from pwh.warehouse import connect, transaction

log = logging.getLogger(__name__)

# one row per identifier of each observed combination, numbered by combination
SIGHTINGS_SQL = """
create or replace temp table identity_sightings as
with observed as (
    select row_number() over () as observation, * from intermediate.int_identifiers_observed
)
select observation, identifier_type, identifier_value, first_seen_at, last_seen_at, sightings
from observed
unpivot (identifier_value for identifier_type in (customer_id, user_id, email, anonymous_id))
"""

NODES_SQL = """
create or replace temp table identity_nodes as
with identifiers as (
    select
        identifier_type,
        identifier_value,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(sightings) as sightings
    from identity_sightings
    group by identifier_type, identifier_value
)
select row_number() over (order by identifier_type, identifier_value) - 1 as node, *
from identifiers
"""

# co-occurrence in one observation, a user id that is a customer id, a dedupe cluster
EDGES_SQL = """
with members as (
    select sightings.observation, nodes.node
    from identity_sightings as sightings
    inner join identity_nodes as nodes using (identifier_type, identifier_value)
),
customers as (select * from identity_nodes where identifier_type = 'customer_id')
select distinct first_member.node as a, second_member.node as b
from members as first_member
inner join members as second_member
    on first_member.observation = second_member.observation and first_member.node < second_member.node
union all
select customers.node, users.node
from customers
inner join identity_nodes as users
    on users.identifier_type = 'user_id' and users.identifier_value = customers.identifier_value
{clusters}
"""

CLUSTER_EDGES_SQL = """
union all
select customers.node, roots.node
from ml.crm_customer_clusters as clusters
inner join customers on customers.identifier_value = cast(clusters.customer_id as varchar)
inner join customers as roots on roots.identifier_value = cast(clusters.cluster_id as varchar)
where clusters.customer_id <> clusters.cluster_id
"""

MAP_SQL = """
create or replace temp table new_identity_map as
with stitched as (
    select nodes.*, people.person, people.guard
    from identity_nodes as nodes
    inner join stitched_people as people using (node)
),
canonical as (
    select
        *,
        first_value(identifier_type || ':' || identifier_value) over (
            partition by person
            order by
                list_position($canonical_order, identifier_type),
                first_seen_at nulls last,
                identifier_value
        ) as canonical_identifier
    from stitched
)
select
    identifier_type,
    identifier_value,
    'p_' || substr(md5(canonical_identifier), 1, 16) as person_id,
    guard as guard_reason,
    first_seen_at,
    last_seen_at,
    cast(sightings as bigint) as sightings,
    $run_id as run_id
from canonical
order by person_id, identifier_type, identifier_value
"""

# people of the previous map whose id is gone: merged into the person now holding most of their identifiers
MERGES_SQL = """
with new_people as (select distinct person_id from new_identity_map),
moved as (
    select previous.person_id, current.person_id as merged_into_person_id, count(*) as identifiers_moved
    from ml.identity_map as previous
    inner join new_identity_map as current using (identifier_type, identifier_value)
    where previous.person_id not in (select person_id from new_people)
    group by previous.person_id, current.person_id
)
select
    person_id,
    arg_max(merged_into_person_id, identifiers_moved) as merged_into_person_id,
    cast(max(identifiers_moved) as bigint) as identifiers_moved,
    ? as run_id,
    cast(? as date) as run_date
from moved
group by person_id
"""

# evidence = component of the unguarded graph: pairs in different ones are not linkable from the data
EVALUATION_SQL = """
with joined as (
    select current.person_id, cast(truth.person_id as varchar) as true_person, evidence.component
    from ml.identity_map as current
    inner join read_parquet(?) as truth using (identifier_type, identifier_value)
    inner join identity_nodes as nodes using (identifier_type, identifier_value)
    inner join evidence_components as evidence using (node)
),
pairs as (
    select 'true' as kind, count(*) as n from joined group by person_id, true_person
    union all select 'predicted', count(*) from joined group by person_id
    union all select 'actual', count(*) from joined group by true_person
    union all select 'linkable', count(*) from joined group by true_person, component
)
select
    (select count(*) from joined) as evaluated,
    coalesce(sum(n * (n - 1) / 2) filter (where kind = 'true'), 0) as true_pairs,
    coalesce(sum(n * (n - 1) / 2) filter (where kind = 'predicted'), 0) as predicted_pairs,
    coalesce(sum(n * (n - 1) / 2) filter (where kind = 'actual'), 0) as actual_pairs,
    coalesce(sum(n * (n - 1) / 2) filter (where kind = 'linkable'), 0) as linkable_pairs
from pairs
"""


@dataclass(frozen=True)
class IdentitySummary:
    identifiers: int
    people: int
    shared: int  # identifiers linked to too many accounts to merge anyone
    ambiguous: int  # identifiers left apart because their links disagree
    merges: int  # people of the previous run merged into another
    anonymous_only_people: int


@dataclass(frozen=True)
class IdentityEvaluation:
    evaluated: int  # identifiers found both in the warehouse and in the truth
    precision: float  # of the pairs put together, the share that are one person
    recall: float  # of the pairs that are one person, the share put together
    # recall over the pairs the data links at all (same component of the unguarded graph): a cookie that
    # never logged in nor sent an email cannot be anyone's, so `recall` has a ceiling below 1
    linkable_recall: float


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    query = "select count(*) from information_schema.tables where table_schema = ? and table_name = ?"
    return con.execute(query, [schema, table]).fetchone()[0] > 0


def _graph(con: duckdb.DuckDBPyConnection) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Build the temp tables identity_sightings and identity_nodes; returns (is_account per node, a, b)."""
    con.execute(SIGHTINGS_SQL)
    con.execute(NODES_SQL)
    clusters = CLUSTER_EDGES_SQL if _has_table(con, "ml", "crm_customer_clusters") else ""
    edges = con.execute(EDGES_SQL.format(clusters=clusters)).fetchnumpy()
    kinds = con.execute("select identifier_type from identity_nodes order by node").fetchnumpy()[
        "identifier_type"
    ]
    return np.isin(kinds, ACCOUNT_KINDS), np.asarray(edges["a"], np.int64), np.asarray(edges["b"], np.int64)


def stitch_identities(
    settings: Settings, run_date: dt.date, run_id: str, max_accounts: int = 1
) -> IdentitySummary:
    """Stitch every identifier of the warehouse into people and publish `ml.identity_map` for this run."""
    with connect(settings.warehouse_path) as con:
        is_account, a, b = _graph(con)
        log.info("identity: %d identifiers, %d links", len(is_account), len(a))
        result = stitch(is_account, a, b, max_accounts)
        people = pa.table({
            "node": np.arange(len(is_account), dtype=np.int64),
            "person": result.person.astype(np.int64),
            "guard": pa.array([GUARD_NAMES[g] for g in result.guard], pa.string()),
        })  # fmt: skip
        con.register("stitched_people", people)
        con.execute(MAP_SQL, {"canonical_order": list(CANONICAL_ORDER), "run_id": run_id})
        con.unregister("stitched_people")
        with transaction(con):
            con.execute("create schema if not exists ml")
            merges = 0
            con.execute(
                "create table if not exists ml.person_merges (person_id varchar, merged_into_person_id varchar,"
                " identifiers_moved bigint, run_id varchar, run_date date)"
            )
            if _has_table(con, "ml", "identity_map"):
                con.execute("delete from ml.person_merges where run_id = ?", [run_id])
                con.execute(f"insert into ml.person_merges {MERGES_SQL}", [run_id, run_date])
                query = "select count(*) from ml.person_merges where run_id = ?"
                merges = con.execute(query, [run_id]).fetchone()[0]
            con.execute("create or replace table ml.identity_map as select * from new_identity_map")
        people_count, anonymous_only = con.execute(
            """
            select count(*), count(*) filter (where only_anonymous)
            from (select person_id, bool_and(identifier_type = 'anonymous_id') as only_anonymous
                  from ml.identity_map group by person_id)
            """
        ).fetchone()
    summary = IdentitySummary(
        identifiers=len(is_account),
        people=people_count,
        shared=int((result.guard == SHARED).sum()),
        ambiguous=int((result.guard == AMBIGUOUS).sum()),
        merges=merges,
        anonymous_only_people=anonymous_only,
    )
    log.info("identity: %s", summary)
    return summary


def evaluate(settings: Settings, run_id: str) -> IdentityEvaluation:
    """Pairwise precision and recall of the published map against the landing zone's truth."""
    truth = settings.landing_dir / "_truth" / "identifiers.parquet"
    if not truth.exists():
        raise FileNotFoundError(
            f"no identity truth at {truth}: evaluation needs a landing zone made by `pwh generate`"
        )
    with connect(settings.warehouse_path) as con:
        is_account, a, b = _graph(con)
        evidence = pa.table({
            "node": np.arange(len(is_account), dtype=np.int64),
            "component": components(len(is_account), a, b).astype(np.int64),
        })  # fmt: skip
        con.register("evidence_components", evidence)
        evaluated, true_pairs, predicted, actual, linkable = con.execute(
            EVALUATION_SQL, [str(truth)]
        ).fetchone()
        con.unregister("evidence_components")
        result = IdentityEvaluation(
            evaluated=int(evaluated),
            precision=float(true_pairs / predicted) if predicted else 1.0,
            recall=float(true_pairs / actual) if actual else 1.0,
            linkable_recall=float(true_pairs / linkable) if linkable else 1.0,
        )
        con.execute(
            "create table if not exists ml.identity_evaluations (run_id varchar, evaluated_identifiers bigint,"
            " pairwise_precision double, pairwise_recall double, linkable_recall double)"
        )
        con.execute(
            "insert into ml.identity_evaluations values (?, ?, ?, ?, ?)",
            [run_id, result.evaluated, result.precision, result.recall, result.linkable_recall],
        )
    return result


__all__ = ["IdentityEvaluation", "IdentitySummary", "evaluate", "stitch_identities"]
