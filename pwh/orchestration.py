"""The Airflow view of the pipeline: which steps become plain tasks and which become dbt task groups.

`pwh run` runs each dbt phase (`transform`, `marts`) as one `dbt build`. In Airflow the same phases are
Astronomer Cosmos task groups, one task per dbt node (`dbt build --select <node>`: the model and its
tests), so engineers see each model's status, log and retries. The selection is the one `pwh run`
uses (`pwh.pipeline.DBT_PHASES`), so both build the same nodes with the same vars.

DuckDB has one writer: the DAG runs one task at a time (`max_active_tasks=1`), which also keeps
Cosmos from building two models at once. On a distributed executor (Celery) every task also goes to one
queue, `PWH_AIRFLOW_QUEUE`, that exactly one worker serves with concurrency 1: the worker on the machine
holding the build file (docs/scaling.md). Unset (`airflow standalone`, `airflow dags test`), tasks keep
Airflow's default queue, which those executors ignore.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from pwh.settings import load_settings, quiet_telemetry

PROFILE_NAME, TARGET_NAME = "pwh", "duckdb"
QUEUE_VARIABLE = "PWH_AIRFLOW_QUEUE"  # the Celery queue of every pwh task; unset: Airflow's default queue
RETRY_DELAY = timedelta(minutes=2)


def warehouse_queue() -> str | None:
    """The queue every pwh task is sent to (`PWH_AIRFLOW_QUEUE`), or None for Airflow's default queue.

    Read when the DAG is parsed: set it for the DAG processor (and, as the DAG is parsed again there, for
    the workers) of a Celery deployment, and serve that queue with one worker, `--concurrency 1`.
    """
    return os.environ.get(QUEUE_VARIABLE, "").strip() or None


def task_defaults(retries: int) -> dict:
    """The DAG's `default_args`: retries, their delay, and the warehouse queue when one is configured.

    Cosmos' operators are created in the DAG's context, so the dbt model tasks get the queue too.
    """
    defaults: dict = {"retries": retries, "retry_delay": RETRY_DELAY}
    if queue := warehouse_queue():
        defaults["queue"] = queue
    return defaults


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
