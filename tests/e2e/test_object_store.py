"""The raw lake and the segment exports on an S3-compatible object store, through fsspec URLs.

A real S3 server (moto's, in a thread of this process, on 127.0.0.1 only) stands in for the object store;
pwh finds it the way a deployment finds one, through the standard AWS_* environment variables. Every
assertion reads the objects back from the server, and the local folders the settings would otherwise
default to must stay absent: a pwh that wrote locally instead fails here.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from pwh.pipeline import export
from pwh.publish import build_settings
from pwh.segments.build import build_segments
from pwh.segments.export import MANIFEST, ExportError, export_all
from pwh.settings import load_settings
from pwh.warehouse import connect
from tests.e2e.test_forget import arrow_traces, pick_person
from tests.pwh.test_segment_export import CATALOGUE, PEOPLE, load
from tests.sample import SAMPLE_RUN_DATE

PWH = Path(sys.executable).parent / "pwh"


@pytest.fixture(scope="module")
def s3_endpoint():
    """A local S3-compatible server for this module's tests: moto's, listening on 127.0.0.1 only."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request in a failure's log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, tmp_path, monkeypatch):
    """A fresh bucket on the server, and the standard AWS environment that points pwh (this process and
    the `pwh` commands it starts) at it; returns (s3fs filesystem, bucket name)."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)  # botocore's own setting: pwh has none
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "pwh-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "pwh-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))  # no developer's ~/.aws
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    s3fs.S3FileSystem.clear_instance_cache()  # fsspec caches filesystems: none made for another server
    filesystem = s3fs.S3FileSystem(skip_instance_cache=True)
    name = f"pwh-{uuid.uuid4().hex[:12]}"
    filesystem.mkdir(name)
    yield filesystem, name
    s3fs.S3FileSystem.clear_instance_cache()


def pwh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PWH, *args], capture_output=True, text=True, env=os.environ, timeout=900)


def parquet_rows(filesystem, folder: str) -> int:
    """Rows of every Parquet file in an S3 folder (0 when there is none)."""
    paths = filesystem.glob(f"{folder}/*.parquet")
    return sum(pq.read_metadata(path, filesystem=filesystem).num_rows for path in paths)


def objects(filesystem, prefix: str) -> dict[str, bytes]:
    """Every object under an S3 prefix, by its path below the prefix, read from the server."""
    filesystem.invalidate_cache()
    return {path[len(prefix) + 1 :]: filesystem.cat_file(path) for path in filesystem.find(prefix)}


@pytest.mark.slow
def test_ingest_writes_the_lake_to_s3_row_for_row(sample_settings, bucket, monkeypatch):
    filesystem, name = bucket
    monkeypatch.setenv("PWH_LAKE_URL", f"s3://{name}/lake")
    done = pwh("ingest", "--date", SAMPLE_RUN_DATE.isoformat())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not (sample_settings.data_dir / "lake").exists(), "the lake was written locally"

    with connect(build_settings(sample_settings).warehouse_path, read_only=True) as con:
        audit = con.execute(
            "select source, table_name, rows_loaded, rows_quarantined from audit.load_audit"
        ).fetchall()
    assert {source for source, *_ in audit} == {"crm", "events", "logs", "catalog"}
    quarantined: dict[str, int] = {}
    for source, table, loaded, quarantine in audit:
        folder = f"{name}/lake/raw_{source}/{table}/load_date={SAMPLE_RUN_DATE}"
        assert parquet_rows(filesystem, folder) == loaded, (source, table)
        quarantined[source] = quarantined.get(source, 0) + quarantine
    for source, rows in quarantined.items():
        folder = f"{name}/lake/raw_{source}/quarantine/load_date={SAMPLE_RUN_DATE}"
        assert parquet_rows(filesystem, folder) == rows, source
    assert sum(loaded for *_, loaded, _ in audit) > 0 and sum(quarantined.values()) > 0


@pytest.mark.slow
def test_exports_and_forget_on_s3_match_a_local_run(sample_built, bucket, monkeypatch, tmp_path):
    """The sample run's lake moved to S3; the export step writes there exactly what the local run wrote;
    `pwh forget` erases a person from the lake and the exports on S3."""
    settings, _ = sample_built
    filesystem, name = bucket
    person = pick_person(settings)  # someone in the local run's exports, with rows in the lake
    local_lake = settings.data_dir / "lake"
    filesystem.put(f"{local_lake}/", f"{name}/lake", recursive=True)
    lake_files = sorted(path.relative_to(local_lake).as_posix() for path in local_lake.rglob("*.parquet"))
    assert sorted(objects(filesystem, f"{name}/lake")) == lake_files
    shutil.rmtree(local_lake)
    reference = tmp_path / "exports-of-the-local-run"
    shutil.move(settings.data_dir / "exports", reference)
    monkeypatch.setenv("PWH_LAKE_URL", f"s3://{name}/lake")
    monkeypatch.setenv("PWH_EXPORTS_URL", f"s3://{name}/exports")
    monkeypatch.setenv("PWH_EXPORTS_DIR", str(settings.data_dir / "exports"))  # the URL wins
    on_s3 = load_settings()

    with connect(on_s3.warehouse_path, read_only=True) as con:
        (run_id,) = con.execute("select distinct run_id from marts.segment_definitions").fetchone()
    day = SAMPLE_RUN_DATE.isoformat()
    assert export(on_s3, SAMPLE_RUN_DATE, run_id) == f"s3://{name}/exports/{day}"
    assert not (settings.data_dir / "exports").exists(), "the exports were written locally"
    local = {
        path.relative_to(reference).as_posix(): path.read_bytes()
        for path in reference.rglob("*")
        if path.is_file()
    }
    exported = objects(filesystem, f"{name}/exports")
    assert exported == local and f"{day}/{MANIFEST}" in exported and len(exported) > 2

    done = pwh("forget", "--email", next(iter(person["email"])))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"exports/{day}/" in done.stdout  # the export files on S3 that held the person
    assert not (settings.data_dir / "lake").exists() and not (settings.data_dir / "exports").exists()
    con = duckdb.connect()
    lake = objects(filesystem, f"{name}/lake")
    assert sorted(lake) == lake_files, "rewritten in place, no file added or left behind"
    for path, data in lake.items():
        table = pq.read_table(io.BytesIO(data))
        assert arrow_traces(path, con, table, person) == []
    after = objects(filesystem, f"{name}/exports")
    manifest = json.loads(after[f"{day}/{MANIFEST}"])
    changed = 0
    for entry in manifest["segments"]:
        data = after[f"{day}/{entry['file']}"]
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
        assert not {row["person_id"] for row in rows} & person["person_id"], entry["file"]
        assert entry["rows"] == len(rows) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        changed += data != exported[f"{day}/{entry['file']}"]
    assert changed > 0


def test_a_failed_upload_leaves_no_manifest_on_s3(settings, bucket, monkeypatch, tmp_path):
    """A rerun whose upload fails halfway leaves a folder without manifest: incomplete, as documented."""
    import s3fs

    filesystem, name = bucket
    catalogue = tmp_path / "segments.yml"
    catalogue.write_text(CATALOGUE)
    load(settings, PEOPLE)
    day = dt.date(2026, 3, 1)
    build_segments(settings, day, "r1", catalogue)
    monkeypatch.setenv("PWH_EXPORTS_URL", f"s3://{name}/exports")
    on_s3 = load_settings()
    assert export_all(on_s3, day, "r1") == f"s3://{name}/exports/{day}"
    folder = f"{name}/exports/{day}"
    assert sorted(objects(filesystem, folder)) == ["berliners.csv", "buyers.csv", MANIFEST]
    with pytest.raises(ValueError, match="not in a local folder"):
        on_s3.exports_dir  # noqa: B018 - no local path stands for an object store

    upload = s3fs.S3FileSystem._put_file
    uploaded: list[str] = []

    async def put_file(self, local, remote, *args, **kwargs):
        if uploaded:  # the first file goes up, the second fails, as on a dropped connection
            raise ConnectionResetError(104, "Connection reset by peer")
        uploaded.append(remote)
        return await upload(self, local, remote, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_put_file", put_file)
    s3fs.S3FileSystem.clear_instance_cache()  # a filesystem made from now on uploads through put_file
    build_segments(settings, day, "r2", catalogue)
    with pytest.raises(ExportError, match=rf"cannot upload s3://{name}/exports/{day}/buyers.csv"):
        export_all(on_s3, day, "r2")
    assert uploaded == [f"{folder}/berliners.csv"]
    assert sorted(objects(filesystem, folder)) == ["berliners.csv", "buyers.csv"], "no manifest"

    monkeypatch.setattr(s3fs.S3FileSystem, "_put_file", upload)
    s3fs.S3FileSystem.clear_instance_cache()
    export_all(on_s3, day, "r2")
    manifest = json.loads(objects(filesystem, folder)[MANIFEST])
    assert manifest["run_id"] == "r2"
