"""The generated lock installs with pip's hash checking into a fresh venv."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

from conftest import REPO


def test_lock_installs_with_require_hashes(tmp_path: Path) -> None:
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    lock = REPO / "build" / "digits-mlp" / "requirements-lock.txt"
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-input",
            "--require-hashes",
            "-r",
            str(lock),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    versions = subprocess.run(
        [
            str(python),
            "-c",
            "import torch, sklearn, numpy;"
            "print(torch.__version__, sklearn.__version__, numpy.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert versions == ["2.13.0+cpu", "1.9.1", "2.4.6"]
    assert sys.prefix != str(target)
