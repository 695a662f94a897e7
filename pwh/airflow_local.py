"""Airflow on this machine for `pwh airflow` / `make airflow`: the nightly DAG in a local, private Airflow.

`airflow standalone` (scheduler, API server with the UI, DAG processor, triggerer; SQLite metadata) with:
- Airflow's home under the data dir (`$PWH_DATA_DIR/airflow`), so its database, logs and generated
  password stay out of the repository (data/ is ignored by git);
- the API server and UI bound to 127.0.0.1 only;
- parallelism for a 2-core machine (Airflow's default of 32 starts dozens of processes): at most four
  tasks at once (the source extracts), and the one-slot pool `pwh_warehouse` that keeps the tasks that
  write the DuckDB build file to one at a time (`create_warehouse_pool`, before Airflow starts);
- login required: Airflow's simple auth manager generates the admin password on first start, prints it
  once and keeps it in `$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated` (never committed).

`celery_env` is the same environment for a distributed Airflow (CeleryExecutor, Redis broker, PostgreSQL
metadata database): `deploy/celery/run_dag.py` starts it on one machine, docs/scaling.md spreads it out.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pwh.orchestration import MAX_ACTIVE_TASKS
from pwh.settings import REPO_DIR, Settings

DEFAULT_PORT = 8080
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
WAREHOUSE_QUEUE = "pwh_warehouse"  # the Celery queue pwh's tasks go to (pwh.orchestration.QUEUE_VARIABLE)


def airflow_home(settings: Settings) -> Path:
    return settings.data_dir / "airflow"


def airflow_env(settings: Settings, port: int = DEFAULT_PORT) -> dict[str, str]:
    """The environment `airflow` commands need to run pwh's DAG against these settings."""
    bin_dir = str(Path(sys.executable).parent)  # standalone spawns `airflow`: it must be on the PATH
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(airflow_home(settings)),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_DIR / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(MAX_ACTIVE_TASKS),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # the first parse lists the dbt nodes (`dbt ls`, then cached): more than the default 30 s on 2 busy cores
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "180",
        # the tasks read pwh's settings from the environment: pin them to what this command resolved
        "PWH_DATA_DIR": str(settings.data_dir),
        "PWH_LANDING_DIR": str(settings.landing_dir),
        "PWH_CRM_URL": settings.crm_url,
        "PWH_LAKE_URL": settings.lake_url,
        "PWH_WAREHOUSE_PATH": str(settings.warehouse_path),
        "PWH_ANALYST_WAREHOUSE_PATH": str(settings.analyst_warehouse_path),
        "PWH_BUILD_DIR": str(settings.build_dir),
        "PWH_DLT_DIR": str(settings.dlt_dir),
        "PWH_EXPORTS_URL": settings.exports_url,
        "PWH_REPORTING_CURRENCY": settings.reporting_currency,
    }


def create_warehouse_pool(env: dict[str, str]) -> None:
    """Migrate the metadata database of `env` and create (or reset) the warehouse pool with one slot.

    A task in a pool that does not exist is never scheduled, so this runs before the scheduler starts.
    """
    from pwh.orchestration import WAREHOUSE_POOL

    airflow = str(Path(sys.executable).parent / "airflow")
    for command in (
        ["db", "migrate"],
        ["pools", "set", WAREHOUSE_POOL, "1", "pwh tasks that write the DuckDB warehouse: one at a time"],
    ):
        done = subprocess.run([airflow, *command], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(command[:2])} failed: {(done.stderr or done.stdout)[-2000:]}"
            )


def admin_password(settings: Settings, home: Path | None = None) -> str | None:
    """The generated admin password, once Airflow (with its home at `home`) has started for the first time."""
    import json

    path = (home or airflow_home(settings)) / PASSWORDS_FILE
    return json.loads(path.read_text())["admin"] if path.exists() else None


def celery_env(
    settings: Settings,
    *,
    home: Path,
    metadata_db: str,
    broker_url: str,
    port: int = DEFAULT_PORT,
    queue: str = WAREHOUSE_QUEUE,
) -> dict[str, str]:
    """`airflow_env` for CeleryExecutor: every component (scheduler, DAG processor, API server, workers).

    `metadata_db` is `user:password@host:port/database` of PostgreSQL (the metadata database and Celery's
    result backend), `broker_url` Redis' `redis://:password@host:port/0`. Every pwh task goes to `queue`
    (read when the DAG is parsed: `pwh.orchestration.warehouse_queue`); serve it with exactly one worker,
    `airflow celery worker --queues <queue> --concurrency 4` (`MAX_ACTIVE_TASKS`), on the machine that holds `PWH_BUILD_DIR`
    (the warehouse pool keeps the writers to one at a time; the extracts run side by side).
    """
    from pwh.orchestration import QUEUE_VARIABLE

    return {
        **airflow_env(settings, port),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        # the API server's async engine: Airflow derives postgresql+asyncpg from this URL
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{metadata_db}",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        # the driver named: SQLAlchemy 2.1's default for postgresql:// is psycopg 3, not installed
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{metadata_db}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(MAX_ACTIVE_TASKS),
        # workers report task state to the API server's execution API (default http://localhost:8080)
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__WORKERS": "1",  # default 4 uvicorn workers: too many for 2 cores
        QUEUE_VARIABLE: queue,
    }
