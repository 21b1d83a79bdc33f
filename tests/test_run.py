"""`reprospec run` end to end: real DVC stages, real MLflow, real snapshots."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from conftest import cli, commit, printed_digest
from reprospec.environment import environment_digest

SPEC = "specs/digits_mlp.yaml"
PREDICTIONS = "outputs/predictions.npy"


def _recorded(project: Path, output: str) -> str:
    spec = yaml.safe_load((project / SPEC).read_text())
    return str(spec["snapshots"]["outputs"][output])


def test_two_fresh_runs_match_each_other_and_the_snapshot(ran_project: Path) -> None:
    again = cli(ran_project, "run", "--force", SPEC)
    assert again.returncode == 0, again.stderr
    assert "Running stage 'build/digits-mlp/dvc.yaml:train'" in again.stderr
    digest = printed_digest(again.stdout, PREDICTIONS)
    assert digest == _recorded(ran_project, PREDICTIONS)
    accuracy = float(re.search(r"accuracy = ([0-9.]+)", again.stdout).group(1))  # type: ignore[union-attr]
    assert accuracy > 0.9


def test_learning_rate_override_changes_digest_and_exits_3(ran_project: Path) -> None:
    done = cli(ran_project, "run", SPEC, "optim.lr=0.01")
    assert done.returncode == 3, done.stderr
    assert printed_digest(done.stdout, PREDICTIONS) != _recorded(
        ran_project, PREDICTIONS
    )
    assert re.search(
        rf"^{re.escape(PREDICTIONS)}\s+sha256:\S+\s+sha256:\S+$", done.stdout, re.M
    )
    assert "differ from the snapshots in specs/digits_mlp.yaml" in done.stderr


def test_tampered_snapshot_exits_3(project: Path) -> None:
    spec = project / SPEC
    text = spec.read_text()
    real = _recorded(project, PREDICTIONS)
    spec.write_text(text.replace(real, "sha256:" + "0" * 64))
    commit(project)
    done = cli(project, "run", SPEC)
    assert done.returncode == 3, done.stderr
    assert f"sha256:{'0' * 64}  {real}" in done.stdout


def test_snapshot_update_records_the_latest_run(project: Path) -> None:
    spec = project / SPEC
    spec.write_text(spec.read_text().split("snapshots:")[0])
    commit(project)
    assert cli(project, "snapshot", SPEC, "--update").returncode == 2
    ran = cli(project, "run", SPEC)
    assert ran.returncode == 0, ran.stderr
    run_id = re.search(r"^run ([0-9a-f]{32})$", ran.stdout, re.M).group(1)  # type: ignore[union-attr]
    done = cli(project, "snapshot", SPEC, "--update", "--output", PREDICTIONS)
    assert done.returncode == 0, done.stderr
    commit(project)
    recorded = yaml.safe_load(spec.read_text())["snapshots"]
    manifest = (project / "build/digits-mlp/requirements-lock.txt").read_text()
    accuracy = float(re.search(r"accuracy = ([0-9.]+)", ran.stdout).group(1))  # type: ignore[union-attr]
    assert recorded["from_run"] == run_id
    assert recorded["outputs"] == {PREDICTIONS: printed_digest(ran.stdout, PREDICTIONS)}
    assert recorded["metrics"]["accuracy"] == accuracy
    assert recorded["environment_digest"] == environment_digest(manifest)
    assert cli(project, "build", "--check", SPEC).returncode == 0
