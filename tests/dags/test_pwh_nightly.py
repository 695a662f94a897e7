"""The nightly DAG: it parses, wires the same steps as `pwh run`, and really runs under `airflow dags test`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pwh.pipeline import STEPS
from pwh.warehouse import connect
from tests.sample import SAMPLE_RUN_DATE

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).parent / "airflow"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    """An Airflow home with a migrated metadata database (SQLite), used through subprocesses only."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "180",
    }
    env.pop("PWH_TASK_RETRIES", None)
    env.pop("PWH_AIRFLOW_QUEUE", None)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return env


INSPECT_DAG = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder="{dags}")
dag = bag.get_dag("pwh_nightly")
print(json.dumps({{
    "errors": {{str(k): str(v) for k, v in bag.import_errors.items()}},
    "tasks": [task.task_id for task in dag.topological_sort()],
    "pools": {{task.task_id: task.pool for task in dag.tasks}},
    "upstream": {{task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks}},
    "retries": [task.retries for task in dag.tasks],
    "queues": sorted({{task.queue for task in dag.tasks}}),
    "max_active_runs": dag.max_active_runs,
    "max_active_tasks": dag.max_active_tasks,
}}))
"""


def inspect_dag(env: dict[str, str]) -> dict:
    """The parsed DAG's shape, as a subprocess sees it (Cosmos renders the dbt groups with `dbt ls`)."""
    done = subprocess.run(
        [sys.executable, "-c", INSPECT_DAG.format(dags=REPO / "dags")],
        env=env, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def dag(airflow_env):
    return inspect_dag(airflow_env)


def test_dag_parses_and_mirrors_the_pipeline_steps(dag):
    assert dag["errors"] == {}
    # the dbt steps are task groups ("transform.<node>_model_build"): in order, the groups are the steps
    steps = [task.split(".")[0] for task in dag["tasks"]]
    assert [step for i, step in enumerate(steps) if i == 0 or steps[i - 1] != step] == [s.name for s in STEPS]
    assert min(dag["retries"]) >= 1
    assert dag["max_active_runs"] == 1


def test_sources_extract_side_by_side_and_every_warehouse_writer_takes_the_one_pool_slot(dag):
    from ingestion import SOURCES
    from pwh.orchestration import PARALLEL_POOL, WAREHOUSE_POOL

    extracts = [f"ingest.extract_{source}" for source in SOURCES]
    upstream = dag["upstream"]
    assert all(upstream[task] == ["ingest.prepare"] for task in extracts), (
        "each extract waits for prepare only"
    )
    assert upstream["ingest.load"] == sorted(extracts), "load waits for every extract"
    assert upstream["check_load_audit"] == ["ingest.load"]
    assert dag["max_active_tasks"] >= len(SOURCES), "the extracts may run at once"
    # DuckDB has one writer: everything else, dbt models included, shares a one-slot pool
    pools = dag["pools"]
    assert {task: pools[task] for task in extracts} == dict.fromkeys(extracts, PARALLEL_POOL)
    writers = {task: pool for task, pool in pools.items() if task not in extracts}
    assert set(writers.values()) == {WAREHOUSE_POOL} and len(writers) > 40


def test_tasks_go_to_the_warehouse_queue_only_when_one_is_configured(airflow_env, dag):
    # standalone and `dags test` as before: Airflow's default queue (LocalExecutor ignores queues)
    assert dag["queues"] == ["default"]
    # Celery (deploy/celery): every task, dbt models included, to the one queue one worker serves
    on_celery = inspect_dag({**airflow_env, "PWH_AIRFLOW_QUEUE": "pwh_warehouse"})
    assert on_celery["errors"] == {} and on_celery["queues"] == ["pwh_warehouse"]
    assert on_celery["tasks"] == dag["tasks"] and on_celery["pools"] == dag["pools"]


def test_every_dbt_model_is_a_task_of_exactly_one_dbt_step(dag):
    built = [task.split(".", 1) for task in dag["tasks"] if task.endswith("_model_build")]
    models = {path.stem for path in (REPO / "dbt_project" / "models").rglob("*.sql")}
    assert sorted(model.removesuffix("_model_build") for _, model in built) == sorted(models)
    groups = {model.removesuffix("_model_build"): group for group, model in built}
    assert groups["stg_crm__customers"] == "transform" and groups["user_profiles"] == "marts"


@pytest.mark.slow  # the whole pipeline under `airflow dags test`
def test_airflow_dags_test_runs_the_pipeline(airflow_env, sample_settings):
    # the sample_settings fixture set PWH_* for this process; a failure must fail now, not after retry delays
    env = {
        **airflow_env,
        **{k: v for k, v in os.environ.items() if k.startswith("PWH_")},
        "PWH_TASK_RETRIES": "0",
    }
    done = subprocess.run(
        [AIRFLOW, "dags", "test", "pwh_nightly", SAMPLE_RUN_DATE.isoformat()],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "state=success" in done.stdout + done.stderr
    with connect(sample_settings.warehouse_path, read_only=True) as con:
        runs = con.execute("select distinct run_id, run_date from audit.load_audit").fetchall()
        activity_days = con.execute(
            "select count(distinct activity_date) from marts.daily_activity"
        ).fetchone()[0]
        published = con.execute("select run_id, run_date from audit.publications").fetchall()
    assert len(runs) == 1 and runs[0][0].startswith("manual__") and runs[0][1] == SAMPLE_RUN_DATE
    assert published == runs, "the publish task published this run"
    assert activity_days >= 1
