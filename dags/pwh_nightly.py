"""pwh_nightly: the nightly pipeline as an Airflow DAG, one task per step of `pwh run`.

This file only wires steps together: the work is in `pwh.pipeline`, shared with the command line.
Three steps are task groups (`pwh.orchestration`): ingest (prepare, one extract per source side by side,
load) and the two dbt steps (one task per dbt model, Astronomer Cosmos). Tasks are keyed on the run's
logical date, never the wall clock, so a re-run or a backfill of a date does the same work. Every task
that writes the one DuckDB warehouse file takes the one slot of the `pwh_warehouse` pool; on Celery,
`PWH_AIRFLOW_QUEUE` also sends every task to the one worker that holds that file.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import chain, dag, task

from pwh.orchestration import MAX_ACTIVE_TASKS, task_defaults

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


@dag(
    dag_id="pwh_nightly",
    description="Ingest, transform, stitch people, segment, train, publish, export: the pwh nightly pipeline",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=MAX_ACTIVE_TASKS,  # the source extracts side by side; the warehouse pool: one writer
    default_args=task_defaults(RETRIES),  # retries, the warehouse pool (and queue, PWH_AIRFLOW_QUEUE)
    tags=["pwh"],
)
def pwh_nightly():
    from pwh.orchestration import dbt_task_group, ingest_task_group, run_task
    from pwh.pipeline import DBT_PHASES

    def step(name: str):
        if name == "ingest":
            return ingest_task_group()
        if name in DBT_PHASES:
            return dbt_task_group(name, RETRIES)
        return task(task_id=name)(run_task)(name)

    chain(*(step(name) for name in STEP_NAMES))


pwh_nightly()
