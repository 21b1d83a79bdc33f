"""`reprospec run -m`: sweeps through Hydra's basic and joblib launchers."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import cli
from reprospec import sweep
from reprospec.errors import UsageError

SPEC = "specs/digits_logreg.yaml"
SUMMARY = re.compile(r"^sweep ([0-9a-f]{32})  \((.+)\)$", re.M)


def _children(uri: str, parent_id: str) -> tuple[Any, list[Any]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    parent = client.get_run(parent_id)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'",
    )
    return parent, children


@pytest.mark.slow
def test_joblib_sweep_leaves_four_children_under_one_parent(project: Path) -> None:
    done = cli(
        project,
        *("run", "-m", "--allow-dirty", SPEC, "model.C=0.1,1.0", "seed=1,2"),
        *("hydra/launcher=joblib", "hydra.launcher.n_jobs=2"),
    )
    # Every job changes the predictions the spec's snapshot records: exit 3.
    assert done.returncode == 3, done.stderr
    assert "Joblib.Parallel(n_jobs=2" in done.stderr
    parents = SUMMARY.findall(done.stdout)
    assert len(parents) == 1, done.stdout
    uri = f"sqlite:///{project}/.reprospec/mlflow.db"
    parent, children = _children(uri, parents[0][0])

    assert parent.info.run_name == "digits-logreg-sweep"
    assert parent.data.tags["launcher"].endswith("JoblibLauncher")
    assert parent.data.metrics == {"jobs": 4.0, "jobs_failed": 0.0}
    combos = {(c.data.params["model.C"], c.data.params["seed"]) for c in children}
    assert combos == {("0.1", "1"), ("0.1", "2"), ("1.0", "1"), ("1.0", "2")}
    environments = {c.data.tags["environment_digest"] for c in children}
    assert environments == {parent.data.tags["environment_digest"]}
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.tags["reprospec.sweep"] == parent.data.tags["reprospec.sweep"]
        assert child.data.tags["snapshot_verdict"] == "mismatch"
        assert child.data.tags["seed"] == child.data.params["seed"]
        _check_digests(uri, child)


def _check_digests(uri: str, run: Any) -> None:
    from mlflow.tracking import MlflowClient

    local = MlflowClient(tracking_uri=uri).download_artifacts(
        run.info.run_id, "digests.json"
    )
    digests = json.loads(Path(local).read_text())
    assert set(digests) >= {"data/raw/digits.npz", "outputs/predictions.npy"}
    assert all(d.startswith("sha256:") for d in digests.values())


@pytest.mark.slow
def test_basic_sweep_tracks_to_the_server_named_by_tracking_uri(
    project: Path, tracking_server: Any
) -> None:
    uri = tracking_server.tracking_uri
    done = cli(
        project,
        *("run", "--multirun", "--allow-dirty", SPEC),
        *(f"++tracking.uri={uri}", "model.C=1.0,0.1"),
    )
    assert done.returncode == 3, done.stderr
    (parent_id, _), *more = SUMMARY.findall(done.stdout)
    assert not more
    assert re.search(r"job 0  exit 0  [0-9a-f]{32}  .*model\.C=1\.0", done.stdout)
    assert re.search(r"job 1  exit 3  [0-9a-f]{32}  .*model\.C=0\.1", done.stdout)
    parent, children = _children(uri, parent_id)
    assert parent.data.tags["launcher"].endswith("BasicLauncher")
    assert len(children) == 2
    verdicts = {
        c.data.params["model.C"]: c.data.tags["snapshot_verdict"] for c in children
    }
    assert verdicts == {"1.0": "match", "0.1": "mismatch"}
    assert not (project / ".reprospec" / "mlflow.db").exists()


# Ray swaps 127.0.0.1 for the machine's routable address unless told it runs a
# single-machine cluster; this keeps every Ray socket on the loopback.
RAY_LOCAL = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.fixture
def ray_head(tmp_path: Path) -> Iterator[str]:
    """Start a Ray head on 127.0.0.1; stop it, and all it started, by its pid."""
    if importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None:
        pytest.skip("hydra-ray-launcher is not installed (docs/scaling.md: Ray)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Ray's socket paths live under its temp folder and must stay short.
    short = tempfile.mkdtemp(prefix="ray-")
    log = (tmp_path / "ray-head.log").open("wb")
    head = subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "ray"), "start", "--head", "--block"),
            *("--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2"),
            *("--include-dashboard=false", f"--temp-dir={short}"),
        ],
        env={**os.environ, **RAY_LOCAL},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not _listening(port):
            alive = head.poll() is None and time.monotonic() < deadline
            assert alive, (tmp_path / "ray-head.log").read_text()[-3000:]
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        _stop_group(head)
        log.close()
        shutil.rmtree(short, ignore_errors=True)


def _stop_group(head: subprocess.Popen[bytes]) -> None:
    """Stop the head and every process it started (its own process group)."""
    for sig, wait in ((signal.SIGTERM, 60), (signal.SIGKILL, None)):
        try:
            os.killpg(head.pid, sig)
        except ProcessLookupError:
            break
        try:
            head.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_ray_sweep_against_a_local_head(
    project: Path, ray_head: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in RAY_LOCAL.items():
        monkeypatch.setenv(name, value)
    done = cli(
        project,
        *("run", "-m", "--allow-dirty", SPEC, "model.C=1.0,0.1", "hydra/launcher=ray"),
        f"hydra.launcher.ray.init.address={ray_head}",
        # The plugin sets a default object store size, which Ray refuses when
        # joining a running cluster; an explicit null keeps it out.
        "+hydra.launcher.ray.init.object_store_memory=null",
    )
    assert done.returncode == 3, done.stderr
    (parent_id, _), *more = SUMMARY.findall(done.stdout)
    parent, children = _children(f"sqlite:///{project}/.reprospec/mlflow.db", parent_id)
    assert parent.data.tags["launcher"].endswith("RayLauncher")
    assert len(children) == 2 and not more


def test_a_sweep_may_not_vary_the_environment() -> None:
    with pytest.raises(UsageError, match="one environment"):
        sweep._split(["environment.python=3.11.7,3.11.8"])
    with pytest.raises(UsageError, match="one tracking store"):
        sweep._split(["tracking.uri=a,b"])
    sweeping, plain = sweep._split(
        ["seed=1,2", "optim.lr=0.1", "hydra/launcher=joblib"]
    )
    assert (sweeping, plain) == (
        ["seed=1,2", "hydra/launcher=joblib"],
        ["optim.lr=0.1"],
    )


def test_the_sweep_exits_with_its_most_serious_job() -> None:
    def result(code: int) -> sweep.JobResult:
        return sweep.JobResult(0, (), code, None, "")

    assert sweep._exit_code([result(0), result(0)]) == 0
    assert sweep._exit_code([result(3), result(5)]) == 5
    assert sweep._exit_code([result(3), result(1), result(4)]) == 1
