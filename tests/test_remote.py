"""The spec's DVC remote: push, delete, pull and verify through a folder remote."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import cli, commit

SPEC = "specs/digits_logreg.yaml"
BUNDLE = "build/digits-logreg"
DATA = "data/raw/digits.npz"


def _with_remote(project: Path) -> Path:
    spec = project / SPEC
    spec.write_text(
        spec.read_text() + "\ndvc_remote:\n  name: team\n  url: ../data-remote\n"
    )
    commit(project, "share the data on a DVC remote")
    return project.parent / "data-remote"


def _run(project: Path) -> tuple[int, str, str]:
    # --allow-dirty: the copied bundle may be rebuilt by the code under test.
    done = cli(project, "run", "--allow-dirty", SPEC)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.slow
def test_push_delete_pull_round_trip(project: Path) -> None:
    remote = _with_remote(project)
    snapshot = yaml.safe_load((project / SPEC).read_text())["snapshots"]["outputs"]

    code, _, err = _run(project)
    assert code == 0, err
    assert f"{DATA} is neither in the local cache nor on DVC remote 'team'" in err

    code, _, err = _run(project)
    assert code == 4, err
    assert "the local data differs from DVC remote 'team'" in err
    assert f"{DATA}: new (only in the local cache, not on the remote: push it)" in err

    pushed = cli(project, "push", SPEC)
    assert pushed.returncode == 0, pushed.stderr
    assert any(path.is_file() for path in remote.rglob("*"))
    code, _, err = _run(project)
    assert code == 0, err

    shutil.rmtree(project / ".dvc" / "cache")
    for folder in ("data", "models", "outputs"):
        shutil.rmtree(project / BUNDLE / folder)
    code, _, err = _run(project)
    assert code == 4, err
    assert f"{DATA}: deleted (only on the remote, not in the local cache" in err
    assert f"reprospec pull {SPEC}" in err

    pulled = cli(project, "pull", SPEC)
    assert pulled.returncode == 0, pulled.stderr
    assert re.search(rf"^  {re.escape(DATA)}  {snapshot[DATA]}$", pulled.stdout, re.M)
    assert (project / BUNDLE / "outputs" / "predictions.npy").is_file()

    code, out, err = _run(project)
    assert code == 0, err
    assert "Running stage" not in err
    assert f"  {DATA}  {snapshot[DATA]}" in out


def test_push_without_a_remote_in_the_spec_exits_2(project: Path) -> None:
    done = cli(project, "push", SPEC)
    assert done.returncode == 2
    assert "names no DVC remote" in done.stderr


def test_a_remote_url_cannot_smuggle_an_option(project: Path) -> None:
    spec = project / SPEC
    spec.write_text(spec.read_text() + "\ndvc_remote: {url: --force}\n")
    done = cli(project, "build", "--check", SPEC)
    assert done.returncode == 2
    assert "dvc_remote.url" in done.stderr
