"""`reprospec run --repeat N`, and the NumPy and Keras examples run end to end."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import cli, commit, printed_digest

LOGREG = "specs/digits_logreg.yaml"
KERAS = "specs/digits_keras.yaml"
PREDICTIONS = "outputs/predictions.npy"

# A train stage that ignores the seed: its coefficients come from os.urandom.
UNSEEDED = """
import os

import numpy as np


def train(ctx):
    noise = np.frombuffer(os.urandom(10 * 64), dtype=np.uint8)
    np.savez(
        ctx.out("models/logreg.npz"),
        coef=noise.reshape(10, 64).astype(np.float64) - 128.0,
        intercept=np.zeros(10),
        classes=np.arange(10),
    )
"""


def run_repeated(
    root: Path, times: int, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run `reprospec run --repeat TIMES ARGS` in a fresh process."""
    return cli(root, "run", "--repeat", str(times), *args)


def _snapshot(root: Path, spec: str) -> str:
    data = yaml.safe_load((root / spec).read_text())
    return str(data["snapshots"]["outputs"][PREDICTIONS])


def _tags(root: Path, run_id: str) -> dict[str, str]:
    with sqlite3.connect(root / ".reprospec" / "mlflow.db") as db:
        rows = db.execute("SELECT key, value FROM tags WHERE run_uuid = ?", (run_id,))
        return dict(rows.fetchall())


def _run_id(stdout: str) -> str:
    found = re.search(r"^run ([0-9a-f]{32})$", stdout, re.M)
    assert found, stdout
    return found.group(1)


@pytest.mark.slow
def test_unseeded_stage_is_named_by_repeat(project: Path) -> None:
    (project / "examples" / "unseeded.py").write_text(UNSEEDED)
    commit(project)
    done = run_repeated(
        project,
        2,
        LOGREG,
        "stages.train.run=examples.unseeded:train",
        "stages.train.outs=[models/logreg.npz]",  # it saves no MLflow model
    )

    assert done.returncode == 3, done.stderr[-3000:]
    assert "stage 'train' is the first to differ (models/logreg.npz)" in done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    firsts = [(row[0], row[1]) for row in rows if len(row) == 4][1:]
    assert firsts[:2] == [("train", "models/logreg.npz"), ("evaluate", PREDICTIONS)]
    # The accuracy of two random models can be equal by chance.
    assert firsts[2:] in ([], [("evaluate", "metrics.json")])
    assert "data/processed/digits.npz" not in done.stdout
    digests = re.findall(r"sha256:[0-9a-f]{64}", done.stdout)
    assert len(set(digests[:2])) == 2


@pytest.mark.slow
def test_logreg_repeats_identically_and_records_how_it_ran(project: Path) -> None:
    done = run_repeated(project, 2, LOGREG)

    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 runs wrote identical outputs" in done.stderr
    assert printed_digest(done.stdout, PREDICTIONS) == _snapshot(project, LOGREG)
    accuracy = re.search(r"accuracy = ([0-9.]+)", done.stdout)
    assert accuracy and float(accuracy.group(1)) > 0.9

    tags = _tags(project, _run_id(done.stdout))
    assert tags["determinism.framework"] == "numpy"
    assert tags["determinism.env.PYTHONHASHSEED"] == "42"
    assert tags["determinism.env.OPENBLAS_NUM_THREADS"] == "1"
    assert tags["platform.python.version"] == sys.version.split()[0]
    assert tags["platform.cpu.model"]
    assert tags["platform.digest"].startswith("sha256:")
    artifacts = project / ".reprospec" / "artifacts"
    saved = next(artifacts.rglob("fingerprint.json"))
    assert json.loads(saved.read_text())["cpu"]["model"] == tags["platform.cpu.model"]


@pytest.mark.slow
def test_keras_example_matches_its_snapshot(project: Path) -> None:
    done = cli(project, "run", KERAS)

    assert done.returncode == 0, done.stderr[-3000:]
    assert printed_digest(done.stdout, PREDICTIONS) == _snapshot(project, KERAS)
    accuracy = re.search(r"accuracy = ([0-9.]+)", done.stdout)
    assert accuracy and float(accuracy.group(1)) > 0.9
    tags = _tags(project, _run_id(done.stdout))
    assert tags["determinism.tensorflow.op_determinism"] == "true"
    assert tags["determinism.tensorflow.intra_op_parallelism_threads"] == "1"
    assert tags["determinism.env.TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert tags["determinism.tensorflow.tensor_float_32_execution"] == "false"
    assert "  model models:/vision.digits.digits-keras/1\n" in done.stdout
