"""Airflow on this machine for `pwh airflow` / `make airflow`: the nightly DAG in a local, private Airflow.

`airflow standalone` (scheduler, API server with the UI, DAG processor, triggerer; SQLite metadata) with:
- Airflow's home under the data dir (`$PWH_DATA_DIR/airflow`), so its database, logs and generated
  password stay out of the repository (data/ is ignored by git);
- the API server and UI bound to 127.0.0.1 only;
- parallelism for a 2-core machine (Airflow's default of 32 starts dozens of processes), and one task at
  a time per DAG: every step writes the one DuckDB build file;
- login required: Airflow's simple auth manager generates the admin password on first start, prints it
  once and keeps it in `$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated` (never committed).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pwh.settings import REPO_DIR, Settings

DEFAULT_PORT = 8080
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"


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
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "1",
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
        "PWH_EXPORTS_DIR": str(settings.exports_dir),
        "PWH_REPORTING_CURRENCY": settings.reporting_currency,
    }


def admin_password(settings: Settings) -> str | None:
    """The generated admin password, once Airflow has started for the first time."""
    import json

    path = airflow_home(settings) / PASSWORDS_FILE
    return json.loads(path.read_text())["admin"] if path.exists() else None
