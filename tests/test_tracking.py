"""The run as MLflow's own client reads it back from the embedded store."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import cli, commit


def test_run_is_tracked_with_params_tags_metrics_and_artifacts(
    ran_project: Path,
) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{ran_project}/.reprospec/mlflow.db")
    experiments = [e.name for e in client.search_experiments()]
    named = [name for name in experiments if name.startswith("vision/digits/")]
    assert len(named) == 1 and re.fullmatch(r"vision/digits/[0-9a-f]{12}", named[0])
    experiment = client.get_experiment_by_name(named[0])
    runs = client.search_runs([experiment.experiment_id], order_by=["start_time ASC"])
    run = runs[0]

    assert run.info.status == "FINISHED"
    assert run.data.params["optim.lr"] == "0.001"
    assert run.data.params["model.hidden"] == "[128]"
    assert run.data.params["seed"] == "42"
    assert run.data.metrics["accuracy"] > 0.9

    tags = run.data.tags
    head = subprocess_git_head(ran_project)
    assert tags["git_commit"] == head
    assert tags["data_version"].startswith("sha256:")
    assert tags["data_version"][7:19] == named[0].split("/")[-1]
    manifest = json.loads((ran_project / "build/digits-mlp/manifest.json").read_text())
    assert tags["spec_digest"] == manifest["spec_digest"]
    assert tags["environment_digest"].startswith("sha256:")
    assert tags["start_time"] < tags["end_time"]
    assert run.info.start_time < run.info.end_time

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {
        "spec.yaml",
        "requirements-lock.txt",
        "environment.yml",
        "dvc.lock",
        "digests.json",
    } <= artifacts
    local = Path(client.download_artifacts(run.info.run_id, "requirements-lock.txt"))
    lock = (ran_project / "build/digits-mlp/requirements-lock.txt").read_text()
    assert local.read_text() == lock


def subprocess_git_head(root: Path) -> str:
    from conftest import git

    return git(root, "rev-parse", "HEAD").strip()


def test_failed_stage_is_tracked_as_failed(project: Path) -> None:
    bad = project / "examples" / "digits.py"
    bad.write_text(
        bad.read_text().replace(
            '"""Predict the test set;', 'raise SystemExit(7)\n    """'
        )
    )
    commit(project)
    done = cli(project, "run", "specs/digits_mlp.yaml")
    assert done.returncode == 1
    assert "marked FAILED" in done.stderr
    assert "Traceback" not in done.stderr.split("reprospec:")[-1]
