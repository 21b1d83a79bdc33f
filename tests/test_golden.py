"""Golden bundles: each case's spec compiles to exactly its expected files, twice.

A case is tests/golden/CASE/ with input/ (a project: specs/, conf/, code) and
expected/ (the bundle). The expected lock doubles as the earlier lock, so no
resolver runs. To regenerate after an intended change, run

    REPROSPEC_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py

which resolves any lock whose inputs changed and rewrites expected/; review the
diff before committing it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from reprospec import compose, resolvers
from reprospec.builder import compile_spec

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "input").is_dir())
REGENERATE = os.environ.get("REPROSPEC_REGENERATE_GOLDEN") == "1"
LOCKS = ("requirements-lock.txt", "conda-lock.yml")


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _compile(case: Path, work: Path) -> dict[str, bytes]:
    project = work / "project"
    shutil.copytree(case / "input", project)
    spec = next((project / "specs").glob("*.yaml"))
    loaded = compose.load(str(spec), [])
    bundle = project / "build" / loaded.spec.name
    for name in LOCKS:
        if (case / "expected" / name).is_file():
            bundle.mkdir(parents=True, exist_ok=True)
            shutil.copy(case / "expected" / name, bundle / name)
    return compile_spec(loaded).blobs


@pytest.mark.parametrize("name", CASES)
def test_golden_bundle(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = GOLDEN / name
    if not REGENERATE:

        def stale(*_: object) -> str:
            raise AssertionError(
                f"the lock inputs of golden case {name} changed; regenerate with "
                "REPROSPEC_REGENERATE_GOLDEN=1 and review the diff"
            )

        monkeypatch.setattr(resolvers, "run", stale)
    first = _compile(case, tmp_path / "first")
    second = _compile(case, tmp_path / "second")
    assert first == second, "the same case compiled to different bytes"

    if REGENERATE:
        shutil.rmtree(case / "expected", ignore_errors=True)
        for path, blob in first.items():
            (case / "expected" / path).parent.mkdir(parents=True, exist_ok=True)
            (case / "expected" / path).write_bytes(blob)
    expected = _tree(case / "expected")
    assert sorted(first) == sorted(expected)
    for path, blob in first.items():
        assert blob.decode() == expected[path].decode(), path
