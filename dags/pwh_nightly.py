"""pwh_nightly: the nightly pipeline as an Airflow DAG, one task per step of `pwh run`.

This file only wires steps together: the work is in `pwh.pipeline`, shared with the command line.
The two dbt steps are task groups with one task per dbt model (`pwh.orchestration`, Astronomer Cosmos).
Tasks are keyed on the run's logical date, never the wall clock, so a re-run or a backfill of a date
does the same work. One task runs at a time: they all write the one DuckDB warehouse file (on Celery,
`PWH_AIRFLOW_QUEUE` also sends every task to the one worker that holds it: `pwh.orchestration`).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import chain, dag, task

from pwh.orchestration import task_defaults

# pwh.pipeline.STEPS, checked by tests/dags; the dbt phases (pwh.pipeline.DBT_PHASES) are task groups
STEP_NAMES = (
    "ingest",
    "check_load_audit",
    "check_raw",
    "transform",
    "dedupe",
    "identity",
    "themes",
    "marts",
    "segments",
    "train",
    "check_marts",
    "publish",
    "export",
    "docs",
    "report",
)


RETRIES = int(os.environ.get("PWH_TASK_RETRIES", "2"))


def _run(step_name: str, **context) -> None:
    from pwh.pipeline import run_step  # heavy imports stay out of DAG parsing

    logical_date = context.get("logical_date") or context["dag_run"].run_after
    run_step(step_name, logical_date.date(), context["run_id"])


@dag(
    dag_id="pwh_nightly",
    description="Ingest, transform, stitch people, segment, train, publish, export: the pwh nightly pipeline",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    default_args=task_defaults(RETRIES),  # retries, and the warehouse queue when PWH_AIRFLOW_QUEUE is set
    tags=["pwh"],
)
def pwh_nightly():
    from pwh.orchestration import dbt_task_group
    from pwh.pipeline import DBT_PHASES

    chain(
        *(
            dbt_task_group(name, RETRIES) if name in DBT_PHASES else task(task_id=name)(_run)(name)
            for name in STEP_NAMES
        )
    )


pwh_nightly()
