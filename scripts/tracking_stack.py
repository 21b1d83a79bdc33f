"""Start and stop a throwaway MLflow tracking server on PostgreSQL, on 127.0.0.1.

    python scripts/tracking_stack.py start DIR [--artifacts URI]
    python scripts/tracking_stack.py stop DIR

`start` prints the tracking URI and keeps the process IDs in DIR/stack.json;
`stop` ends exactly those processes. The tests use `start` and `stop` from
Python through a fixture. Run scripts/setup-tracking-stack.sh once first: as
root, PostgreSQL needs an unprivileged user to own its data folder.

The database trusts every connection from 127.0.0.1 and lives in a temporary
folder: this stack is for tests and trials, not for keeping a team's runs
(docs/scaling.md shows the durable setup).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

HOST = "127.0.0.1"
DB_USER = os.environ.get("REPROSPEC_DB_USER", "reprospec-db")
QUIET = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "1",
    # The server's background job runner serves GenAI features; runs need none.
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
}


class StackError(RuntimeError):
    """The stack could not start; the message says why and where its log is."""


@dataclass(frozen=True)
class Stack:
    """A running PostgreSQL and MLflow server, and where their files are."""

    tracking_uri: str
    database_uri: str
    artifacts: str
    postgres_pid: int
    mlflow_pid: int
    data_dir: str
    log_dir: str


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def postgres_bindir() -> Path:
    """Return the folder holding initdb and postgres, the newest version first."""
    configured = os.environ.get("REPROSPEC_PG_BIN")
    candidates = [configured] if configured else []
    found = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(found, key=lambda p: int(Path(p).parent.name), reverse=True)
    on_path = shutil.which("initdb")
    candidates += [str(Path(on_path).parent)] if on_path else []
    for folder in candidates:
        if (Path(folder) / "initdb").is_file():
            return Path(folder)
    raise StackError(
        "PostgreSQL's initdb was not found; run scripts/setup-tracking-stack.sh "
        "or set REPROSPEC_PG_BIN to the folder holding initdb and postgres"
    )


def _owner() -> pwd.struct_passwd | None:
    """Return the user the database runs as when we are root, else None (us)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(DB_USER)
    except KeyError:
        raise StackError(
            f"PostgreSQL refuses to run as root and the user {DB_USER!r} does not "
            "exist; create it with scripts/setup-tracking-stack.sh"
        ) from None


def _as_owner(owner: pwd.struct_passwd | None) -> dict[str, object]:
    if owner is None:
        return {}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


def start(log_dir: Path, artifacts: str | None = None) -> Stack:
    """Start PostgreSQL, then an MLflow server on it; stop both if either fails."""
    log_dir.mkdir(parents=True, exist_ok=True)
    destination = artifacts or (log_dir / "artifacts").resolve().as_uri()
    data_dir, pg_pid, pg_port = _start_postgres(log_dir)
    database = f"postgresql://mlflow@{HOST}:{pg_port}/mlflow"
    try:
        mlflow_pid, port = _start_mlflow(database, destination, log_dir)
    except BaseException:
        _stop_postgres(pg_pid, data_dir)
        raise
    return Stack(
        tracking_uri=f"http://{HOST}:{port}",
        database_uri=database,
        artifacts=destination,
        postgres_pid=pg_pid,
        mlflow_pid=mlflow_pid,
        data_dir=str(data_dir),
        log_dir=str(log_dir),
    )


def _start_postgres(log_dir: Path) -> tuple[Path, int, int]:
    bindir = postgres_bindir()
    owner = _owner()
    # The data folder sits outside log_dir: a test's temporary folder is private
    # to root, and the database's owner must be able to reach its files.
    data_dir = Path(tempfile.mkdtemp(prefix="reprospec-pg-"))
    if owner is not None:
        os.chown(data_dir, owner.pw_uid, owner.pw_gid)
    initdb = [
        str(bindir / "initdb"),
        *("-D", str(data_dir), "-U", "mlflow", "-E", "UTF8"),
        *("--auth=trust", "--no-locale", "--no-instructions"),
    ]
    with open(log_dir / "initdb.log", "wb") as log:
        done = subprocess.run(
            initdb,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
            **_as_owner(owner),
        )
    if done.returncode != 0:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise StackError(f"initdb failed; see {log_dir / 'initdb.log'}")
    port = free_port()
    server = [
        str(bindir / "postgres"),
        *("-D", str(data_dir), "-p", str(port)),
        *("-c", f"listen_addresses={HOST}", "-c", "unix_socket_directories="),
    ]
    with open(log_dir / "postgres.log", "wb") as log:
        child = subprocess.Popen(
            server,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **_as_owner(owner),  # type: ignore[arg-type]
        )
    try:
        _wait_for_database(child, port, log_dir / "postgres.log")
    except BaseException:
        _stop_postgres(child.pid, data_dir)
        raise
    return data_dir, child.pid, port


def _wait_for_database(child: subprocess.Popen[bytes], port: int, log: Path) -> None:
    import psycopg

    deadline = time.monotonic() + 60
    while True:
        if child.poll() is not None:
            raise StackError(f"postgres exited with {child.returncode}; see {log}")
        try:
            with psycopg.connect(
                host=HOST, port=port, user="mlflow", dbname="postgres", autocommit=True
            ) as conn:
                conn.execute("CREATE DATABASE mlflow")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise StackError(
                    f"postgres did not accept connections; see {log}"
                ) from None
            time.sleep(0.2)


def _start_mlflow(database: str, destination: str, log_dir: Path) -> tuple[int, int]:
    port = free_port()
    command = [
        sys.executable,
        *("-m", "mlflow", "server"),
        *("--backend-store-uri", database),
        *("--serve-artifacts", "--artifacts-destination", destination),
        *("--host", HOST, "--port", str(port), "--workers", "2"),
    ]
    log = log_dir / "mlflow.log"
    with open(log, "wb") as handle:
        child = subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **QUIET},
            cwd=log_dir,
            start_new_session=True,
        )
    try:
        _wait_for_http(child, f"http://{HOST}:{port}/health", log)
    except BaseException:
        _stop_group(child.pid)
        raise
    return child.pid, port


def _wait_for_http(child: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        if child.poll() is not None:
            raise StackError(f"mlflow server exited with {child.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise StackError(f"mlflow server did not answer {url}; see {log}")
        time.sleep(0.5)


def stop(stack: Stack) -> None:
    """Stop the MLflow server, then PostgreSQL, by their process IDs."""
    try:
        _stop_group(stack.mlflow_pid)
    finally:
        _stop_postgres(stack.postgres_pid, Path(stack.data_dir))


def _stop_group(pid: int) -> None:
    """End the process group led by pid (a server and the workers it forked)."""
    if _runs(pid, "mlflow"):
        _signal_and_wait(pid, signal.SIGTERM, group=True)


def _stop_postgres(pid: int, data_dir: Path) -> None:
    # SIGINT is PostgreSQL's fast shutdown: it ends its own backends first.
    if _runs(pid, str(data_dir)):
        _signal_and_wait(pid, signal.SIGINT, group=False)
    shutil.rmtree(data_dir, ignore_errors=True)


def _runs(pid: int, marker: str) -> bool:
    """Return whether pid is still the process we started (not a reused ID)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return marker.encode() in command


def _signal_and_wait(pid: int, sig: signal.Signals, group: bool) -> None:
    send = os.killpg if group else os.kill
    try:
        send(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        try:
            send(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        while _alive(pid):
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Return whether pid still runs; reap it when it is our exited child."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Start or stop the stack whose state lives in DIR."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("dir", type=Path, help="logs and state (stack.json)")
    parser.add_argument(
        "--artifacts", help="artifact store URI (default DIR/artifacts)"
    )
    args = parser.parse_args(argv)
    state = args.dir / "stack.json"
    if args.action == "start":
        if state.exists():
            parser.error(f"{state} exists: stop that stack first")
        stack = start(args.dir.resolve(), args.artifacts)
        state.write_text(json.dumps(asdict(stack), indent=2) + "\n")
        print(stack.tracking_uri)
        return 0
    if not state.exists():
        parser.error(f"{state} does not exist: no stack was started there")
    stop(Stack(**json.loads(state.read_text())))
    state.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
