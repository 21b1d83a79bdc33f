"""A stage's model: saved in MLflow's format, then logged and registered by a run."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from conftest import cli
from reprospec.errors import ModelNotSaved
from reprospec.runtime import StageContext

LOGREG = "specs/digits_logreg.yaml"
MODEL = "models/mlflow-model"
PIN = re.compile(r"^([A-Za-z0-9._-]+==[^\s\\]+)", re.M)


def _context() -> StageContext:
    return StageContext(
        name="train",
        seed=1,
        params={},
        deps=(),
        outs=(Path(MODEL),),
        metrics=(),
        rng=None,
    )


def test_save_model_outside_a_bundle_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotSaved, match="in a stage started from a bundle"):
        _context().save_model(object(), MODEL, flavor="sklearn")


def test_save_model_needs_mlflow_in_the_bundle_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conda.yaml").write_text("name: probe\n")
    (tmp_path / "requirements-lock.txt").write_text("numpy==2.4.6 \\\n  --hash=x\n")
    with pytest.raises(ModelNotSaved, match=r"add 'mlflow==\d[^']*' to environment"):
        _context().save_model(object(), MODEL, flavor="sklearn")
    assert not (tmp_path / MODEL).exists()


def _client(root: Path) -> Any:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root}/.reprospec/mlflow.db"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _registered(stdout: str) -> tuple[str, str]:
    found = re.search(r"^  model models:/([^/\s]+)/(\d+)$", stdout, re.M)
    assert found, stdout
    return found.group(1), found.group(2)


def _predict(
    root: Path, name: str, version: str, x: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Load models:/NAME/VERSION as MLflow's generic pyfunc model and predict x."""
    import mlflow.pyfunc

    uri = f"sqlite:///{root}/.reprospec/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the model adds its code
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    return np.asarray(model.predict(x))


def _test_set(bundle: Path) -> tuple[Any, Any]:
    with np.load(bundle / "data/processed/digits.npz") as data:
        return data["x_test"], np.load(bundle / "outputs/predictions.npy")


def _check_version(root: Path, name: str, version: str, run_id: str) -> Any:
    client = _client(root)
    found = client.get_model_version(name, version)
    run = client.get_run(run_id)
    assert found.run_id == run_id
    for key in ("spec_digest", "environment_digest", "data_version", "seed"):
        assert found.tags[key] == run.data.tags[key], key
    return found


@pytest.mark.slow
def test_logreg_model_is_logged_registered_tagged_and_predicts(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = cli(project, "run", LOGREG)
    assert done.returncode == 0, done.stderr[-3000:]
    run_id = done.stdout.split()[1]
    name, version = _registered(done.stdout)
    assert (name, version) == ("vision.digits.digits-logreg", "1")

    bundle = project / "build/digits-logreg"
    found = _check_version(project, name, version, run_id)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert found.tags["spec_digest"] == manifest["spec_digest"]
    assert found.tags["seed"] == "42"
    assert found.source.endswith(f"/{run_id}/artifacts/{MODEL}")
    logged = {a.path for a in _client(project).list_artifacts(run_id, MODEL)}
    assert {f"{MODEL}/MLmodel", f"{MODEL}/conda.yaml", f"{MODEL}/code"} <= logged

    saved = bundle / MODEL
    assert "sklearn" in yaml.safe_load((saved / "MLmodel").read_text())["flavors"]
    environment = yaml.safe_load((saved / "conda.yaml").read_text())
    pip = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert pip[0] == "--require-hashes"
    assert all("--hash=sha256:" in line for line in pip[1:])
    lock = (bundle / "requirements-lock.txt").read_text()
    assert set(PIN.findall("\n".join(pip[1:]))) == set(PIN.findall(lock))
    source = project / "examples/digits_logreg.py"
    assert (saved / "code/examples/digits_logreg.py").read_text() == source.read_text()

    x, predictions = _test_set(bundle)
    assert (_predict(project, name, version, x, monkeypatch) == predictions).all()

    again = cli(project, "run", LOGREG)
    assert again.returncode == 0, again.stderr[-3000:]
    assert _registered(again.stdout) == (name, "2")


@pytest.mark.slow
def test_torch_model_is_registered_and_predicts_as_the_stage_did(
    ran_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _client(ran_project)
    name = "vision.digits.digits-mlp"
    first = client.get_model_version(name, "1")
    found = _check_version(ran_project, name, "1", first.run_id)
    assert found.tags["seed"] == "42"

    bundle = ran_project / "build/digits-mlp"
    assert (
        "pytorch" in yaml.safe_load((bundle / MODEL / "MLmodel").read_text())["flavors"]
    )
    x, predictions = _test_set(bundle)
    logits = _predict(ran_project, name, "1", x, monkeypatch)
    assert (logits.argmax(axis=1) == predictions).all()
