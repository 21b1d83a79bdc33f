"""`reprospec run -m`: sweeps through Hydra's basic and joblib launchers."""

from __future__ import annotations

import json
import re
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
