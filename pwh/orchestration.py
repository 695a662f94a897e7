"""The Airflow view of the pipeline: which steps become plain tasks and which become task groups.

`pwh run` runs each dbt phase (`transform`, `marts`) as one `dbt build`. In Airflow the same phases are
Astronomer Cosmos task groups, one task per dbt node (`dbt build --select <node>`: the model and its
tests), so engineers see each model's status, log and retries. The selection is the one `pwh run`
uses (`pwh.pipeline.DBT_PHASES`), so both build the same nodes with the same vars. The ingest step is a
group too: `prepare`, one `extract_<source>` per source side by side, then `load` (`pwh.pipeline.ingest`
runs the same phases, the extracts in threads).

DuckDB has one writer: every task that writes the warehouse, Cosmos' included, takes the one slot of the
pool `pwh_warehouse` (`WAREHOUSE_POOL`; `pwh airflow` and deploy/celery create it), so they run one at a
time. Only the extracts, which never write the warehouse, stay in Airflow's `default_pool` and run side
by side. On a distributed executor (Celery) every task also goes to one queue, `PWH_AIRFLOW_QUEUE`, that
exactly one worker serves: the worker on the machine holding the build file and dlt's folder
(docs/scaling.md). Unset (`airflow standalone`, `airflow dags test`), tasks keep Airflow's default queue,
which those executors ignore.
"""

from __future__ import annotations

import datetime as dt
import os
from datetime import timedelta
from pathlib import Path

from ingestion import SOURCES
from pwh.settings import load_settings, quiet_telemetry

PROFILE_NAME, TARGET_NAME = "pwh", "duckdb"
QUEUE_VARIABLE = "PWH_AIRFLOW_QUEUE"  # the Celery queue of every pwh task; unset: Airflow's default queue
WAREHOUSE_POOL = "pwh_warehouse"  # one slot: the tasks that write the DuckDB warehouse run one at a time
PARALLEL_POOL = "default_pool"  # Airflow's own: the tasks that never write the warehouse (the extracts)
MAX_ACTIVE_TASKS = len(SOURCES)  # the most tasks that may run at once: the source extracts
RETRY_DELAY = timedelta(minutes=2)


def warehouse_queue() -> str | None:
    """The queue every pwh task is sent to (`PWH_AIRFLOW_QUEUE`), or None for Airflow's default queue.

    Read when the DAG is parsed: set it for the DAG processor (and, as the DAG is parsed again there, for
    the workers) of a Celery deployment, and serve that queue with one worker.
    """
    return os.environ.get(QUEUE_VARIABLE, "").strip() or None


def task_defaults(retries: int) -> dict:
    """The DAG's `default_args`: retries, their delay, the warehouse pool, and the warehouse queue when
    one is configured. Cosmos' operators are created in the DAG's context, so the dbt model tasks get
    the pool and queue too."""
    defaults: dict = {"retries": retries, "retry_delay": RETRY_DELAY, "pool": WAREHOUSE_POOL}
    if queue := warehouse_queue():
        defaults["queue"] = queue
    return defaults


def run_task(step: str, **context) -> None:
    """A plain task: one step of `pwh.pipeline.STEPS` on the run's logical date."""
    from pwh.pipeline import run_step  # heavy imports stay out of DAG parsing

    run_step(step, _run_date(context), context["run_id"])


def run_ingest_task(phase: str, source: str | None = None, **context) -> None:
    """A task of the ingest group: 'prepare', 'extract' (of `source`) or 'load'."""
    from pwh.pipeline import run_ingest_phase

    run_ingest_phase(phase, _run_date(context), context["run_id"], source)


def _run_date(context) -> dt.date:
    return (context.get("logical_date") or context["dag_run"].run_after).date()


def ingest_task_group():
    """The ingest step as tasks: `prepare` -> `extract_<source>` for every source at once -> `load`."""
    from airflow.sdk import TaskGroup, chain, task

    with TaskGroup(group_id="ingest") as group:
        chain(
            task(task_id="prepare")(run_ingest_task)("prepare"),
            [
                task(task_id=f"extract_{source}", pool=PARALLEL_POOL)(run_ingest_task)("extract", source)
                for source in SOURCES
            ],
            task(task_id="load")(run_ingest_task)("load"),
        )
    return group


def dbt_task_group(phase: str, retries: int):
    """A Cosmos task group building the dbt nodes of `phase` ('transform' or 'marts') in the build file.

    The render lists the nodes with `dbt ls` when the DAG is parsed (Cosmos caches it); tasks run dbt in
    process (dbtRunner), with the run's logical date as the `run_date` var.
    """
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    from pwh.pipeline import DBT_PHASES, DBT_WAREHOUSE_VARIABLE, dbt_executable, dbt_vars
    from pwh.publish import build_settings

    quiet_telemetry()
    settings = build_settings(load_settings())
    selection = DBT_PHASES[phase]
    return DbtTaskGroup(
        group_id=phase,
        project_config=ProjectConfig(
            settings.dbt_project_dir,
            env_vars={DBT_WAREHOUSE_VARIABLE: str(settings.warehouse_path)},
            install_dbt_deps=False,  # the project has no packages
        ),
        profile_config=ProfileConfig(
            profile_name=PROFILE_NAME,
            target_name=TARGET_NAME,
            profiles_yml_filepath=Path(settings.dbt_project_dir) / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.DBT_RUNNER,
            dbt_executable_path=dbt_executable(),  # the render's check wants one even when dbt runs in process
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_LS,
            test_behavior=TestBehavior.BUILD,
            select=selection.get("select", []),
            exclude=selection.get("exclude", []),
            # a test of several models (relationships) runs once all of them are built, not with the first
            should_detach_multiple_parents_tests=True,
        ),
        operator_args={
            "vars": dbt_vars("{{ ds }}", settings.reporting_currency),
            "retries": retries,
        },
    )
