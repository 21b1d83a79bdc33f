"""Each artifact passes the tool that consumes it: hadolint, actionlint, mlflow."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO
from reprospec import compose, lock
from reprospec.emitters import BuildInputs, emit_all
from reprospec.runner import digest_outputs

BIN = Path(sys.executable).parent
SPECS = sorted(p.stem for p in (REPO / "specs").glob("*.yaml"))
DIGEST = "sha256:" + "ab" * 32


def _tool(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, f"{name} is not installed; run make setup"
    return found


def _offline(command: list[str]) -> list[str]:
    """Return command run without a network, where this machine allows it."""
    unshare = shutil.which("unshare")
    probe = [unshare, "-n", "true"] if unshare else None
    if probe and subprocess.run(probe, capture_output=True).returncode == 0:
        return [str(unshare), "-n", *command]
    return command


def emitted(
    spec: str, conda_lock: str | None = None, **environment: Any
) -> dict[str, str]:
    """Return the artifacts of a committed spec, with environment keys changed.

    The lock is the committed one, so no resolver runs: emitters are pure.
    """
    base = compose.load(str(REPO / "specs" / f"{spec}.yaml"), [])
    data = copy.deepcopy(base.spec.resolved())
    data["environment"].update(environment)
    loaded = replace(base, spec=compose.validate(data, base.relpath))
    bundle = REPO / "build" / base.spec.name
    text = (bundle / "requirements-lock.txt").read_text()
    resolved = lock.Lock((bundle / "requirements.in").read_text(), text, "sha256:0")
    relpath = f"build/{base.spec.name}"
    inputs = BuildInputs(loaded, resolved, relpath, code={}, conda_lock=conda_lock)
    return emit_all(inputs)


VARIANTS = {
    **{name: {} for name in SPECS},
    "cuda": {"cuda": "12.4"},
    "digest-pinned": {"base_image": f"mambaorg/micromamba:1.5.0@{DIGEST}"},
    "conda-lock": {"conda_lock": "version: 1\n"},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_dockerfile_is_clean_under_hadolint(variant: str, tmp_path: Path) -> None:
    spec = variant if variant in SPECS else "digits_mlp"
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(emitted(spec, **VARIANTS[variant])["Dockerfile"])
    done = subprocess.run(
        [_tool("hadolint"), "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [line for line in joined.splitlines() if line and line[0] != "#"]
    return [(line.split()[0], line.partition(" ")[2]) for line in lines]


def test_dockerfile_pins_base_labels_and_seeds() -> None:
    text = emitted("digits_mlp", base_image=f"mambaorg/micromamba:1.5.0@{DIGEST}")[
        "Dockerfile"
    ]
    steps = _instructions(text)
    assert ("FROM", f"mambaorg/micromamba:1.5.0@{DIGEST}") in steps
    after_from = steps[[s[0] for s in steps].index("FROM") :]
    declared = {arg.split("=")[0] for op, arg in after_from if op == "ARG"}
    used = set(re.findall(r"\$\{([A-Z_]+)\}", "\n".join(a for _, a in after_from)))
    assert used <= declared, "an ARG used after FROM must be declared after it"
    labels = " ".join(arg for op, arg in steps if op == "LABEL")
    for key in ("title", "version", "revision", "source", "created"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert 'org.opencontainers.image.created="${IMAGE_CREATED}"' in labels
    assert "SOURCE_DATE_EPOCH" in text and "date -u -d" in text
    for key in ("spec-digest", "environment-digest", "mlflow-run-id"):
        assert f"dev.reprospec.{key}=" in labels
    env = " ".join(arg for op, arg in steps if op == "ENV")
    for key in ("PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG", "OMP_NUM_THREADS"):
        assert f"{key}=" in env
    user = [arg for op, arg in steps if op == "USER"]
    assert user and user[-1].split(":")[0] not in ("0", "root")


def test_dockerfile_cuda_variant() -> None:
    cpu = emitted("digits_mlp")["Dockerfile"]
    cuda = emitted("digits_mlp", cuda="12.4")["Dockerfile"]
    assert 'ARG CUDA_VERSION="12.4"' in cuda and 'ARG CUDA_VERSION=""' in cpu
    assert "NVIDIA_VISIBLE_DEVICES" in cuda and "NVIDIA_VISIBLE_DEVICES" not in cpu
    assert "FROM mambaorg/micromamba:1.5.0\n" in cuda


def _requirements_in(spec: str, **environment: Any) -> str:
    base = compose.load(str(REPO / "specs" / f"{spec}.yaml"), [])
    data = copy.deepcopy(base.spec.resolved())
    data["environment"].update(environment)
    return lock.requirements_in(compose.validate(data, base.relpath), base.relpath)


def test_cuda_variant_locks_torch_from_its_cuda_index() -> None:
    cuda = _requirements_in("digits_mlp", cuda="12.4")
    assert "--extra-index-url https://download.pytorch.org/whl/cu124" in cuda
    assert "download.pytorch.org" not in _requirements_in("digits_mlp")
    assert "download.pytorch.org" not in _requirements_in("digits_logreg", cuda="12.4")


def _workflow_paths() -> list[Path]:
    return sorted(REPO.glob("build/*/.github/workflows/*.yml"))


@pytest.mark.parametrize("path", _workflow_paths(), ids=lambda p: p.parts[-4])
def test_workflow_passes_actionlint_and_the_schema(path: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    lint = subprocess.run(
        [_tool("actionlint"), "-shellcheck", _tool("shellcheck"), str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    schema = subprocess.run(
        _offline(
            [
                _tool("check-jsonschema"),
                "--builtin-schema",
                "vendor.github-workflows",
                str(path),
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr


def test_workflow_pins_actions_and_limits_the_token() -> None:
    text = (REPO / "build/digits-mlp/.github/workflows/reprospec.yml").read_text()
    uses = re.findall(r"uses: (\S+)(.*)", text)
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), ref
    data = yaml.safe_load(text)
    assert data["permissions"] == {"contents": "read"}
    assert data["concurrency"]["cancel-in-progress"] is True
    for job in data["jobs"].values():
        assert job["timeout-minutes"] <= 60
    steps = data["jobs"]["reproduce"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "--require-hashes" in runs and "reprospec build --check" in runs
    assert "reprospec verify" in runs
    assert steps[1]["with"]["python-version"] == "3.11.7"
    scan = data["jobs"]["image-scan"]["steps"][-1]["uses"]
    assert scan.startswith("aquasecurity/trivy-action@")


def test_mlproject_runs_under_mlflow(project: Path, tmp_path: Path) -> None:
    bundle = project / "build" / "digits-logreg"
    for made in ("data", "models", "outputs", "reports", "metrics.json"):
        shutil.rmtree(bundle / made, ignore_errors=True)
        (bundle / made).unlink(missing_ok=True)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    done = subprocess.run(
        [
            _tool("mlflow"),
            "run",
            "build/digits-logreg",
            "--env-manager",
            "local",
            "--experiment-name",
            "mlproject-test",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "succeeded" in done.stderr
    loaded = compose.load(str(project / "specs" / "digits_logreg.yaml"), [])
    digests = digest_outputs(loaded, bundle)
    for path, expected in loaded.spec.snapshots.outputs.items():
        assert digests[path] == expected, path
