"""The walkthrough notebook runs headless from top to bottom."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_walkthrough_notebook_executes(tmp_path: Path) -> None:
    output = tmp_path / "walkthrough.ipynb"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            "--kernel",
            "python3",
            "--cwd",
            str(REPO / "docs"),
            str(REPO / "docs" / "walkthrough.ipynb"),
            str(output),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "output(s) identical" in output.read_text()
