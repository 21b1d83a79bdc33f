"""The command line: help, exit codes, and no heavy imports on the build path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import cli

HEAVY = ("torch", "tensorflow", "mlflow", "dvc", "sklearn")

PROBE = """
import json, sys
from reprospec.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def _probe(cwd: Path, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY)), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_help_imports_no_framework(project: Path) -> None:
    assert _probe(project, "--help") == {"code": 0, "heavy": []}


def test_build_imports_no_framework(project: Path) -> None:
    assert _probe(project, "build", "specs/digits_mlp.yaml") == {"code": 0, "heavy": []}


def test_missing_spec_file_exits_2(project: Path) -> None:
    done = cli(project, "build", "specs/nope.yaml")
    assert done.returncode == 2
    assert "specs/nope.yaml: no such spec file" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_flag_exits_2(project: Path) -> None:
    done = cli(project, "build", "specs/digits_mlp.yaml", "--frobnicate")
    assert done.returncode == 2
    assert "--frobnicate" in done.stderr
