"""Where pwh reads and writes: every path comes from a `PWH_` environment variable or a config file.

Precedence: environment variable > config file (`$PWH_CONFIG`, else `./pwh.toml` if present) > default.
The lake and the exports may be a local folder or any fsspec URL (`s3://bucket/lake`): `url_to_fs` is the one
place that turns them into a filesystem and a path. Credentials and endpoint come from that filesystem's
own standard configuration, never from pwh's settings (for `s3://`, botocore's: `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT_URL` for an S3-compatible server, `AWS_PROFILE`, `~/.aws/config`).
The other paths are local.
`warehouse_path` is the full published warehouse; the pipeline builds into a file of the same name in
`build_dir` and publishes it there atomically (`pwh.publish`), together with `analyst_warehouse_path`,
the analyst warehouse: the marts with direct identifiers masked, what `pwh query` reads by default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

REPO_DIR = Path(__file__).resolve().parents[1]

# Keep tools quiet offline: their telemetry would otherwise retry network calls.
TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "DO_NOT_TRACK": "1",
    # dlt otherwise imports Airflow to look for secrets in its Variables (pwh keeps none there): 3.5 s per
    # run, and Airflow's import replaces the logging setup, so every pwh log line after it was lost
    "PROVIDERS__ENABLE_AIRFLOW_SECRETS": "false",
}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    landing_dir: Path
    crm_url: str
    lake_url: str
    warehouse_path: Path
    build_dir: Path
    dlt_dir: Path
    # where every run's segment CSVs and manifest go, in <exports_url>/<run date>/: a folder (absolute) or
    # an fsspec URL. PWH_EXPORTS_URL, or its older name PWH_EXPORTS_DIR (see `exports_dir`)
    exports_url: str
    dbt_project_dir: Path
    analyst_warehouse_path: Path  # the published analyst warehouse: marts with direct identifiers masked
    reporting_currency: str = "EUR"
    # Set only on the pipeline's copy (`pwh.publish.build_settings`): the published warehouse that its
    # warehouse_path, the private build file, is published to. Not a setting: never read from the config.
    published_path: Path | None = None

    @property
    def exports_dir(self) -> Path:
        """The exports folder, when `exports_url` is a local one; ValueError for an object store URL."""
        filesystem, path = url_to_fs(self.exports_url)
        if not is_local(filesystem):
            raise ValueError(f"the exports are at {self.exports_url}, not in a local folder")
        return Path(path)


def url_to_fs(url: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem and the path in it of a lake or exports location: a folder or any fsspec URL."""
    import fsspec

    return fsspec.core.url_to_fs(url)


def is_local(filesystem: AbstractFileSystem) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(filesystem, LocalFileSystem)


def _local_or_url(location: str) -> str:
    """A URL as it is; a folder made absolute, so that it means the same whatever the working folder."""
    return location if "://" in location else str(Path(location).expanduser().resolve())


def _config_file() -> dict[str, str]:
    path = os.environ.get("PWH_CONFIG")
    candidate = Path(path) if path else Path("pwh.toml")
    if not candidate.exists():
        if path:
            raise FileNotFoundError(f"PWH_CONFIG points at {candidate}, which does not exist")
        return {}
    with candidate.open("rb") as handle:
        return {str(key).lower(): str(value) for key, value in tomllib.load(handle).items()}


def load_settings() -> Settings:
    """Resolve settings from the environment and the optional config file."""
    file_values = _config_file()

    def get(name: str, default: str, *aliases: str) -> str:
        names = (name, *aliases)
        found = [os.environ.get(f"PWH_{key.upper()}") for key in names]  # the environment wins
        found += [file_values.get(key) for key in names]
        return next((value for value in found if value), default)

    data_dir = Path(get("data_dir", "./data")).expanduser().resolve()
    landing_dir = Path(get("landing_dir", str(data_dir / "landing"))).expanduser().resolve()
    warehouse_path = Path(get("warehouse_path", str(data_dir / "warehouse" / "pwh.duckdb"))).resolve()
    values = {
        "data_dir": data_dir,
        "landing_dir": landing_dir,
        "crm_url": get("crm_url", f"sqlite:///{landing_dir / 'crm.sqlite'}"),
        "lake_url": get("lake_url", str(data_dir / "lake")),
        "warehouse_path": warehouse_path,
        # next to the full warehouse unless set: <data_dir>/warehouse/pwh_analyst.duckdb by default
        "analyst_warehouse_path": Path(
            get("analyst_warehouse_path", str(warehouse_path.with_name("pwh_analyst.duckdb")))
        ).resolve(),
        "build_dir": Path(get("build_dir", str(data_dir / "build"))).resolve(),
        "dlt_dir": Path(get("dlt_dir", str(data_dir / "dlt"))).resolve(),
        "exports_url": _local_or_url(get("exports_url", str(data_dir / "exports"), "exports_dir")),
        "dbt_project_dir": Path(get("dbt_project_dir", str(REPO_DIR / "dbt_project"))).resolve(),
        "reporting_currency": get("reporting_currency", "EUR").upper(),
    }
    unknown = set(file_values) - set(values) - {"exports_dir"}
    if unknown:
        raise ValueError(f"unknown setting(s) in config file: {', '.join(sorted(unknown))}")
    return Settings(**values)


def quiet_telemetry() -> None:
    for key, value in TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)
