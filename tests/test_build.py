"""`reprospec build`: deterministic bundles, --check, and lock reuse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import REPO, cli
from reprospec import compose, resolvers
from reprospec.builder import compile_spec

BUNDLE = Path("build/digits-mlp")


def _snapshot_tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_committed_bundle_is_in_sync() -> None:
    done = cli(REPO, "build", "--check", "specs/digits_mlp.yaml")
    assert done.returncode == 0, done.stderr
    assert "build/digits-mlp: in sync with specs/digits_mlp.yaml" in done.stdout


def test_build_twice_gives_identical_bytes(project: Path) -> None:
    (project / BUNDLE / "Dockerfile").unlink()
    assert cli(project, "build", "specs/digits_mlp.yaml").returncode == 0
    first = _snapshot_tree(project / BUNDLE)
    assert cli(project, "build", "specs/digits_mlp.yaml").returncode == 0
    assert _snapshot_tree(project / BUNDLE) == first
    manifest = json.loads(first["manifest.json"])
    run_state = {"dvc.lock", "metrics.json"}  # committed records of the last run
    assert set(manifest["files"]) == set(first) - {"manifest.json"} - run_state


def test_check_names_a_hand_edited_file_and_writes_nothing(project: Path) -> None:
    dockerfile = project / BUNDLE / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo edited\n")
    before = _snapshot_tree(project / BUNDLE)
    done = cli(project, "build", "--check", "specs/digits_mlp.yaml")
    assert done.returncode == 3
    assert "build/digits-mlp/Dockerfile" in done.stderr
    assert "build/digits-mlp/params.yaml" not in done.stderr
    assert _snapshot_tree(project / BUNDLE) == before


def test_check_names_a_spec_change(project: Path) -> None:
    done = cli(project, "build", "--check", "specs/digits_mlp.yaml", "seed=7")
    assert done.returncode == 3
    assert "params.yaml" in done.stderr
    assert "entrypoint.py" in done.stderr


def test_overrides_build_outside_the_committed_bundle(project: Path) -> None:
    before = _snapshot_tree(project / BUNDLE)
    done = cli(project, "build", "specs/digits_mlp.yaml", "optim.lr=0.01")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(".reprospec/bundles/digits-mlp-")
    assert _snapshot_tree(project / BUNDLE) == before


def test_unchanged_lock_inputs_skip_the_resolver(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> str:
        raise AssertionError("the resolver ran although its inputs did not change")

    monkeypatch.setattr(resolvers, "run", refuse)
    loaded = compose.load(str(project / "specs/digits_mlp.yaml"), ["optim.lr=0.5"])
    compiled = compile_spec(loaded)
    committed = (project / BUNDLE / "requirements-lock.txt").read_bytes()
    assert compiled.blobs["requirements-lock.txt"] == committed


@pytest.mark.parametrize("bundle", sorted(p.name for p in (REPO / "build").iterdir()))
def test_lock_has_hashes_and_no_machine_paths(bundle: str) -> None:
    text = (REPO / "build" / bundle / "requirements-lock.txt").read_text()
    assert str(REPO) not in text
    assert not re.search(r"(^|\s)(-[rc] |file:)?/(work|tmp|opt|root|home)/", text, re.M)
    pins = [
        line for line in text.splitlines() if "==" in line and not line.startswith("#")
    ]
    assert len(pins) > 10
    for pin in pins:
        assert pin.endswith("\\"), f"{pin} has no --hash"
    for link in resolvers.machine_find_links():
        assert link not in text
    assert "--find-links" not in text
    assert "--index-url" not in text
    assert "file:" not in text
