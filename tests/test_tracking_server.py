"""Runs tracked on a real MLflow server backed by PostgreSQL, under concurrent load."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import cli

WORKERS = 4
RUNS_EACH = 4
EXPERIMENT = "load/tracking/shared"

# Each worker waits for the start file, so that all four hit the server at once,
# then records its runs through reprospec.tracking.record.
WORKER = """
import sys, time
from pathlib import Path
from mlflow.tracking import MlflowClient
from reprospec.tracking import RunRecord, record

uri, root, worker, runs, go = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), Path(sys.argv[5])
MlflowClient(uri).search_experiments()  # connect and import before the start
while not go.exists():
    pass
for number in range(runs):
    name = f"w{worker}-r{number}"
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "weights.bin").write_bytes(bytes([worker, number]) * 4096)
    (folder / "notes.txt").write_text(f"run {name}\\n")
    now = int(time.time() * 1000)
    run = RunRecord(
        experiment=sys.argv[6],
        run_name=name,
        start_ms=now - 1000,
        end_ms=now,
        status="FINISHED",
        params={f"layer{i}.width": str(worker * 100 + number * 10 + i)
                for i in range(30)},
        tags={"worker": str(worker), "number": str(number)},
        metrics={"accuracy": worker + number / 10, "loss": 1.0 / (1 + number)},
        artifacts=(folder / "weights.bin", folder / "notes.txt"),
    )
    print("recorded", record(uri, root, run), name, flush=True)
"""


def test_four_processes_record_sixteen_runs_and_nothing_is_lost(
    tracking_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [
                *(sys.executable, "-c", WORKER, tracking_server.tracking_uri),
                *(str(tmp_path / f"w{n}"), str(n), str(RUNS_EACH), str(go)),
                EXPERIMENT,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    started = time.monotonic()
    go.touch()
    results = [worker.communicate(timeout=300) for worker in workers]
    elapsed = time.monotonic() - started
    for worker, (_, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err
    recorded = dict(
        line.split()[1:]
        for out, _ in results
        for line in out.splitlines()
        if line.startswith("recorded ")
    )
    assert len(recorded) == WORKERS * RUNS_EACH
    print(f"{len(recorded)} runs from {WORKERS} processes in {elapsed:.1f} s")

    _check_read_back(tracking_server.tracking_uri, recorded, tmp_path / "back")


def _check_read_back(uri: str, recorded: dict[str, str], into: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    assert {run.info.run_id: run.info.run_name for run in runs} == recorded
    for run in runs:
        worker, number = (int(n) for n in run.info.run_name[1:].split("-r"))
        assert run.info.status == "FINISHED"
        assert run.data.params == {
            f"layer{i}.width": str(worker * 100 + number * 10 + i) for i in range(30)
        }
        assert run.data.metrics == {
            "accuracy": worker + number / 10,
            "loss": 1.0 / (1 + number),
        }
        assert run.data.tags["worker"] == str(worker)
        assert run.data.tags["number"] == str(number)
        listed = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert listed == {"weights.bin", "notes.txt", "param-keys.json"}
        local = Path(
            client.download_artifacts(run.info.run_id, "", str(into / run.info.run_id))
        )
        assert (local / "weights.bin").read_bytes() == bytes([worker, number]) * 4096
        assert (local / "notes.txt").read_text() == f"run {run.info.run_name}\n"
        keys = json.loads((local / "param-keys.json").read_text())
        assert len(keys) == 30


@pytest.mark.slow
def test_reprospec_run_tracks_to_the_server_named_by_the_environment(
    ran_project: Path, tracking_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_server.tracking_uri)
    # --allow-dirty: other tests may have rebuilt this shared copy's bundle.
    done = cli(ran_project, "run", "--allow-dirty", "specs/digits_mlp.yaml")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[1]

    client = MlflowClient(tracking_uri=tracking_server.tracking_uri)
    run = client.get_run(run_id)
    assert run.data.params["seed"] == "42"
    assert run.data.tags["spec"] == "specs/digits_mlp.yaml"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    lock = client.download_artifacts(run_id, "requirements-lock.txt")
    expected = ran_project / "build/digits-mlp/requirements-lock.txt"
    assert Path(lock).read_text() == expected.read_text()
    stored = tracking_server.artifacts.removeprefix("file://")
    assert any(Path(stored).rglob("requirements-lock.txt"))
