"""Run `pwh_nightly` once on a distributed Airflow (CeleryExecutor) on this machine, then stop it all.

`make airflow-celery` (or `.venv/bin/python deploy/celery/run_dag.py --help` after
`uv sync --frozen --group celery`). On a fresh Debian machine, as root, it:

1. installs Debian's `redis-server` and `postgresql` when they are missing (apt-get, services not started);
2. starts a private PostgreSQL (metadata database, Celery's result backend) and a private Redis (Celery's
   broker), both on 127.0.0.1 only, with their files under `$PWH_DATA_DIR/celery/` and generated
   passwords kept in `$PWH_DATA_DIR/celery/secrets.json` (mode 0600, never in the repository);
3. configures Airflow with `pwh.airflow_local.celery_env` (the environment of `pwh airflow` plus the
   executor, databases, broker and the warehouse queue), runs `airflow db migrate`, creates the one-slot
   pool `pwh_warehouse` (the single DuckDB writer), and starts the scheduler, the DAG processor, the API
   server (127.0.0.1) and one Celery worker serving only the `pwh_warehouse` queue, with concurrency 4
   so that the source extracts run side by side;
4. writes the sample data (`pwh generate`, the size the DAG tests use), triggers `pwh_nightly` for the
   logical date with `airflow dags trigger`, follows the run over the REST API, prints every task's final
   state, queue and worker, checks that no two tasks of the warehouse pool ran at once and that the run
   was published;
5. stops everything it started (also on Ctrl-C or a failure) and exits 1 unless the run succeeded.

Logs of every component: `$PWH_DATA_DIR/celery/logs/`. The metadata database stays between runs (like
`pwh airflow`'s SQLite file); delete `$PWH_DATA_DIR/celery/` to start from nothing. The schedule is off
(`use_job_schedule=False`) so that only the triggered run runs; a deployment leaves it on.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from pwh.airflow_local import WAREHOUSE_QUEUE, admin_password, celery_env, create_warehouse_pool
from pwh.orchestration import MAX_ACTIVE_TASKS, WAREHOUSE_POOL
from pwh.settings import load_settings

DAG_ID = "pwh_nightly"
BIN = Path(sys.executable).parent
AIRFLOW, PWH = str(BIN / "airflow"), str(BIN / "pwh")
DB_NAME, DB_USER = "airflow", "pwh_airflow"
FINISHED = {"success", "failed"}
STARTED = time.monotonic()


def say(message: str) -> None:
    elapsed = int(time.monotonic() - STARTED)
    print(f"[{elapsed // 60:02d}:{elapsed % 60:02d}] {message}", flush=True)


class Failure(Exception):
    """A step of the setup failed: the message says which and where its log is."""


# ---------------------------------------------------------------------------------------------- packages


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries Debian installed (`/usr/lib/postgresql/<version>/bin`)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def ensure_packages() -> tuple[Path, str]:
    """Debian's PostgreSQL and Redis servers, installed with apt-get when missing (as root)."""
    missing = [name for name, found in (("postgresql", postgres_bin()), ("redis-server", shutil.which("redis-server"))) if not found]  # fmt: skip
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise Failure(
                f"missing {', '.join(missing)}: install them as root: apt-get install {' '.join(missing)}"
            )
        say(f"installing Debian packages: {' '.join(missing)} (apt-get)")
        # services are not started by the install (this script runs its own, on 127.0.0.1 only): the
        # Debian way is a policy-rc.d that denies every start; Docker images ship one, else add it for now
        policy = Path("/usr/sbin/policy-rc.d")
        added = not policy.exists()
        if added:
            policy.write_text(
                "#!/bin/sh\n# pwh deploy/celery: no service starts during apt-get install\nexit 101\n"
            )
            policy.chmod(0o755)
        try:
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env, check=True)  # fmt: skip
        finally:
            if added:
                policy.unlink()
    pg, redis = postgres_bin(), shutil.which("redis-server")
    if not (pg and redis):
        raise Failure("apt-get ran, but PostgreSQL's initdb or redis-server is still missing")
    return pg, redis


# -------------------------------------------------------------------------------------------- processes


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def as_user(name: str) -> list[str]:
    """Run as the service's system user when this script runs as root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return []
    try:
        import pwd

        pwd.getpwnam(name)
    except KeyError:
        return []
    return ["runuser", "-u", name, "--"]


def give(path: Path, user: str) -> None:
    """Make `path` (a file or a whole folder) the service user's, when running as root."""
    if as_user(user):
        subprocess.run(["chown", "-R", f"{user}:", str(path)], check=True)


class Services:
    """Everything this run started, stopped in reverse order whatever happens."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.stops: list[tuple[str, list[str]]] = []  # commands that stop a daemon (pg_ctl stop)
        self.cleanups: list[Path] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("a")
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append((name, process))
        say(f"started {name} (pid {process.pid}), log {self.logs / f'{name}.log'}")
        return process

    def check_alive(self) -> None:
        for name, process in self.processes:
            if process.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                raise Failure(f"{name} exited with {process.returncode}:\n{tail}")

    def stop_all(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for name, process in reversed(self.processes):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            say(f"stopped {name}")
        self.processes.clear()
        for name, command in reversed(self.stops):
            done = subprocess.run(command, capture_output=True, text=True)
            say(
                f"stopped {name}"
                + ("" if done.returncode == 0 else f" (exit {done.returncode}: {done.stderr.strip()})")
            )
        self.stops.clear()
        for path in self.cleanups:
            shutil.rmtree(path, ignore_errors=True)


def load_secrets(path: Path) -> dict[str, str]:
    """Generated passwords, kept beside the services' data (mode 0600) so that reruns reuse them."""
    values = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for key in ("postgres_password", "redis_password"):
        if key not in values:
            values[key], changed = secrets.token_hex(24), True
    if changed:
        path.touch(mode=0o600)
        path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


def start_postgres(services: Services, pg_bin: Path, root: Path, port: int, password: str) -> None:
    """A private PostgreSQL cluster in `root/postgres`, on 127.0.0.1:port, with Airflow's database and user."""
    data, run_as = root / "postgres", as_user("postgres")
    data.mkdir(mode=0o700, exist_ok=True)
    give(data, "postgres")
    if run_as and subprocess.run([*run_as, "test", "-w", str(data)]).returncode != 0:
        raise Failure(
            f"the postgres user cannot reach {data}: let it traverse the folders above "
            "(chmod o+x, or an ACL: setfacl -m u:postgres:x <folder>), or run this script as a non-root user"
        )
    if not (data / "PG_VERSION").exists():
        say(f"initdb {data}")
        subprocess.run(
            [*run_as, str(pg_bin / "initdb"), "-D", str(data), "--auth-local=peer", "--auth-host=scram-sha-256",
             "--encoding=UTF8", "--no-locale"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    # the Unix socket (peer login to create the role) in a short private folder: socket paths are short
    sockets = Path(tempfile.mkdtemp(prefix="pwh-pg-"))
    services.cleanups.append(sockets)
    give(sockets, "postgres")
    log = services.logs / "postgres.log"
    log.touch()
    give(log, "postgres")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets}"
    subprocess.run(
        [*run_as, str(pg_bin / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w", "-t", "120", "-o", options],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    services.stops.append(
        ("postgres", [*run_as, str(pg_bin / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"])
    )
    say(f"started postgres on 127.0.0.1:{port}, data {data}, log {log}")
    # role and database, idempotent; SQL on stdin so the password never shows in a process list
    psql = [*run_as, str(pg_bin / "psql"), "-h", str(sockets), "-p", str(port), "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qtA"]  # fmt: skip
    subprocess.run(
        psql,
        input=f"""
        do $$ begin
          if exists (select from pg_roles where rolname = '{DB_USER}') then
            alter role {DB_USER} with login password '{password}';
          else
            create role {DB_USER} with login password '{password}';
          end if;
        end $$;
        """,
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    exists = subprocess.run(
        psql,
        input=f"select 1 from pg_database where datname = '{DB_NAME}';",
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(psql, input=f"create database {DB_NAME} owner {DB_USER} encoding 'UTF8';", check=True, capture_output=True, text=True)  # fmt: skip
        say(f"created database {DB_NAME} owned by {DB_USER}")


def start_redis(services: Services, redis: str, root: Path, port: int, password: str) -> None:
    """A private Redis on 127.0.0.1:port, password required, no persistence (the broker's queue only)."""
    folder = root / "redis"
    folder.mkdir(mode=0o700, exist_ok=True)
    config = folder / "redis.conf"
    config.touch(mode=0o600)
    config.write_text(
        f'bind 127.0.0.1\nport {port}\nprotected-mode yes\nrequirepass "{password}"\ndir {folder}\n'
        'save ""\nappendonly no\ndaemonize no\nlogfile ""\n'
    )
    give(folder, "redis")
    services.start("redis", [*as_user("redis"), redis, str(config)], dict(os.environ))
    wait_for(lambda: not port_free(port), 60, "redis to listen")


# ------------------------------------------------------------------------------------------------ airflow


def wait_for(check, timeout: float, what: str, services: Services | None = None, every: float = 2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if services:
            services.check_alive()
        with contextlib.suppress(OSError, ValueError):
            if result := check():
                return result
        time.sleep(every)
    raise Failure(f"timed out after {timeout:.0f} s waiting for {what}")


class Api:
    """The API server's REST API, with a token from the generated admin password."""

    def __init__(self, base: str):
        self.base, self.token = base, None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, {}

    def login(self, password: str | None) -> bool:
        status, health = self.call("GET", "/api/v2/monitor/health")
        if status != 200 or health.get("metadatabase", {}).get("status") != "healthy" or not password:
            return False
        status, login = self.call("POST", "/auth/token", {"username": "admin", "password": password})
        self.token = login.get("access_token")
        return bool(self.token)


def airflow(args: list[str], env: dict[str, str], log: Path, timeout: float = 600) -> str:
    done = subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout)
    with log.open("a") as out:
        out.write(f"$ airflow {' '.join(args)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise Failure(
            f"airflow {' '.join(args)} failed ({done.returncode}), see {log}:\n{done.stderr[-3000:]}"
        )
    return done.stdout


def parse_time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def most_at_once(instances: list[dict]) -> int:
    """The most task instances whose [start, end] overlapped: 1 means they ran strictly one at a time."""
    edges = []
    for ti in instances:
        start, end = parse_time(ti.get("start_date")), parse_time(ti.get("end_date"))
        if start and end:
            edges += [(start, 1), (end, -1)]
    running = peak = 0
    # at the same instant an end (-1) sorts before a start (+1): back to back is not at once
    for _, step in sorted(edges):
        running += step
        peak = max(peak, running)
    return peak


def task_instances(api: Api, run_id: str) -> list[dict]:
    status, page = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances?limit=1000")
    return page.get("task_instances", []) if status == 200 else []


def print_tasks(instances: list[dict]) -> None:
    rows = sorted(instances, key=lambda ti: (ti.get("start_date") or "9999", ti["task_id"]))
    width = max(len(ti["task_id"]) for ti in rows)
    print(f"{'task':<{width}}  {'state':<15} try {'queue':<14} {'worker':<16} seconds", flush=True)
    for ti in rows:
        seconds = f"{ti['duration']:.1f}" if ti.get("duration") is not None else "-"
        print(
            f"{ti['task_id']:<{width}}  {ti.get('state') or 'none':<15} {ti.get('try_number', 0):>3} "
            f"{ti.get('queue') or '-':<14} {(ti.get('hostname') or '-')[:16]:<16} {seconds:>7}",
            flush=True,
        )


def published_run(settings, run_id: str) -> bool:
    from pwh.publish import published_runs

    return run_id in (published_runs(settings.warehouse_path) or [])


# --------------------------------------------------------------------------------------------------- main


def interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--users", type=int, default=300, help="sample size (pwh generate; the DAG tests' sample)"
    )
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start-date", type=dt.date.fromisoformat, default=dt.date(2026, 1, 1))
    parser.add_argument(
        "--date", type=dt.date.fromisoformat, help="logical date (default: the sample's last day)"
    )
    parser.add_argument("--skip-generate", action="store_true", help="run on the landing zone as it is")
    parser.add_argument("--api-port", type=int, default=8080)
    parser.add_argument("--postgres-port", type=int, default=5433, help="5432 is left to a system PostgreSQL")
    parser.add_argument("--redis-port", type=int, default=6380, help="6379 is left to a system Redis")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds to wait for the run")
    parser.add_argument(
        "--keep-running", action="store_true", help="after the run, keep serving until Ctrl-C"
    )
    args = parser.parse_args(argv)
    run_date = args.date or args.start_date + dt.timedelta(days=args.days - 1)

    settings = load_settings()
    root = settings.data_dir / "celery"
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)  # the service users (postgres, redis) go through it to their own folders
    for port, option in ((args.api_port, "--api-port"), (args.postgres_port, "--postgres-port"), (args.redis_port, "--redis-port")):  # fmt: skip
        if not port_free(port):
            raise Failure(f"127.0.0.1:{port} is in use: choose another with {option}")

    say(f"pwh on CeleryExecutor: data dir {settings.data_dir}, services under {root}")
    pg_bin, redis = ensure_packages()
    keys = load_secrets(root / "secrets.json")
    services = Services(logs)
    signal.signal(signal.SIGTERM, interrupt)  # a kill or a CI timeout stops everything too
    try:
        start_postgres(services, pg_bin, root, args.postgres_port, keys["postgres_password"])
        start_redis(services, redis, root, args.redis_port, keys["redis_password"])
        home = root / "airflow"
        home.mkdir(exist_ok=True)
        env = celery_env(
            settings,
            home=home,
            metadata_db=f"{DB_USER}:{keys['postgres_password']}@127.0.0.1:{args.postgres_port}/{DB_NAME}",
            broker_url=f"redis://:{keys['redis_password']}@127.0.0.1:{args.redis_port}/0",
            port=args.api_port,
        )
        env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"  # only the run triggered below

        if not args.skip_generate:
            say(
                f"pwh generate --users {args.users} --days {args.days} --seed {args.seed} --start-date {args.start_date}"
            )
            subprocess.run(
                [PWH, "generate", "--users", str(args.users), "--days", str(args.days), "--seed", str(args.seed),
                 "--start-date", args.start_date.isoformat()],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip

        began = time.monotonic()
        create_warehouse_pool(env)
        say(
            f"airflow db migrate on PostgreSQL and pool {WAREHOUSE_POOL} (1 slot): {time.monotonic() - began:.0f} s"
        )

        services.start("scheduler", [AIRFLOW, "scheduler", "--skip-serve-logs"], env)
        services.start("dag-processor", [AIRFLOW, "dag-processor"], env)
        services.start("api-server", [AIRFLOW, "api-server"], env)  # host and port: AIRFLOW__API__*
        # one worker, on the one queue every pwh task goes to; the pool keeps its writers to one at a time
        services.start(
            "worker",
            [AIRFLOW, "celery", "worker", "--queues", WAREHOUSE_QUEUE, "--concurrency", str(MAX_ACTIVE_TASKS),
             "--celery-hostname", f"{WAREHOUSE_QUEUE}@%h", "--skip-serve-logs"],
            env,
        )  # fmt: skip

        api = Api(f"http://127.0.0.1:{args.api_port}")
        wait_for(lambda: api.login(admin_password(settings, home)), 300, "the API server", services)
        say(f"API server healthy on http://127.0.0.1:{args.api_port} (user admin, password in {home}/simple_auth_manager_passwords.json.generated)")  # fmt: skip
        wait_for(
            lambda: api.call("GET", f"/api/v2/dags/{DAG_ID}")[0] == 200,
            600,
            f"{DAG_ID} to be parsed",
            services,
        )
        say(f"{DAG_ID} parsed by the DAG processor")
        wait_for(
            lambda: "ready." in (logs / "worker.log").read_text(errors="replace"),
            300,
            "the Celery worker",
            services,
        )
        say(f"Celery worker ready: queue {WAREHOUSE_QUEUE}, concurrency {MAX_ACTIVE_TASKS}")
        status, _ = api.call("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})
        if status != 200:
            raise Failure(f"could not unpause {DAG_ID}: HTTP {status}")

        run_id = f"celery__{run_date.isoformat()}__{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
        airflow(["dags", "trigger", DAG_ID, "--logical-date", f"{run_date.isoformat()}T00:00:00+00:00", "--run-id", run_id], env, logs / "airflow-cli.log")  # fmt: skip
        triggered = time.monotonic()
        say(f"triggered {DAG_ID} for {run_date} as {run_id}")

        last, state = "", None
        while time.monotonic() - triggered < args.timeout:
            services.check_alive()
            status, run = api.call("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
            state = run.get("state") if status == 200 else None
            counts = Counter(ti.get("state") or "none" for ti in task_instances(api, run_id))
            line = f"run {state}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
            if line != last:
                say(line)
                last = line
            if state in FINISHED:
                break
            time.sleep(10)
        else:
            raise Failure(f"{DAG_ID} did not finish within {args.timeout} s")

        instances = task_instances(api, run_id)
        print_tasks(instances)
        start, end = parse_time(run.get("start_date")), parse_time(run.get("end_date"))
        queues = Counter(ti.get("queue") for ti in instances)
        workers = Counter(ti.get("hostname") for ti in instances if ti.get("hostname"))
        say(f"{len(instances)} task instances: " + ", ".join(f"{n} {s}" for s, n in Counter(ti.get("state") for ti in instances).items()))  # fmt: skip
        writers = most_at_once([ti for ti in instances if ti.get("pool") == WAREHOUSE_POOL])
        say(
            f"queues: {dict(queues)}; workers: {dict(workers)}; most tasks running at once: "
            f"{most_at_once(instances)}, of pool {WAREHOUSE_POOL}: {writers}"
        )
        if writers > 1:
            raise Failure(
                f"{writers} tasks of pool {WAREHOUSE_POOL} ran at once: two writers on the warehouse"
            )
        if start and end:
            say(f"DAG run {state} in {(end - start).total_seconds():.0f} s (run start to end); trigger to end seen here: {time.monotonic() - triggered:.0f} s")  # fmt: skip
        if state == "success":
            say(f"published: {run_id} is in audit.publications of {settings.warehouse_path}: {published_run(settings, run_id)}")  # fmt: skip
        if args.keep_running:
            say(f"serving on http://127.0.0.1:{args.api_port} until Ctrl-C")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    services.check_alive()
                    time.sleep(5)
        return 0 if state == "success" else 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        services.stop_all()
        say(f"all stopped; total {time.monotonic() - STARTED:.0f} s")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Failure, RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", None)
        say(f"FAILED: {error}" + (f"\n{detail[-3000:]}" if detail else ""))
        sys.exit(1)
