"""Shared fixtures: a throwaway copy of the project, and the CLI as a subprocess."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT_PARTS = (
    "specs",
    "conf",
    "examples",
    "requirements",
    "build",
    ".dvc",
    ".dvcignore",
    ".gitignore",
)


def copy_project(target: Path) -> Path:
    """Copy the project's files that git sees (not its ignored outputs) into target."""
    listed = subprocess.run(
        [
            "git",
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
            "--",
            *PROJECT_PARTS,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "project under test")
    return target


def git(cwd: Path, *args: str) -> str:
    """Run git with a fixed identity and return its stdout."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@localhost",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@localhost",
    }
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def commit(root: Path, message: str = "change under test") -> None:
    """Commit every change in root, so guards see a clean tree."""
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)


def cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m reprospec ARGS` in a fresh process."""
    env = {
        **os.environ,
        "REPROSPEC_LOG_DIR": str(cwd / ".reprospec" / "logs"),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "reprospec", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def build_digits(project: Path, *overrides: str) -> tuple[int, str]:
    """Build the digits MLP spec with overrides; return exit code and stderr."""
    done = cli(project, "build", "specs/digits_mlp.yaml", *overrides)
    assert "Traceback" not in done.stderr
    return done.returncode, done.stderr


def printed_digest(stdout: str, output: str) -> str:
    """Return the digest `reprospec run` printed for one output."""
    found = re.search(
        rf"^  {re.escape(output)}  (sha256:[0-9a-f]{{64}})$", stdout, re.M
    )
    assert found, stdout
    return found.group(1)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Return a fresh copy of the project in a temporary folder."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def ran_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Return a project copy in which the digits spec has run once."""
    root = copy_project(tmp_path_factory.mktemp("ran") / "project")
    done = cli(root, "run", "specs/digits_mlp.yaml")
    assert done.returncode == 0, done.stderr
    yield root


@pytest.fixture(scope="session")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Start PostgreSQL and an MLflow server on 127.0.0.1; stop both at the end.

    Where PostgreSQL is missing the tests that need it are skipped, except in CI
    (CI=true), whose setup step installs it: there they fail.
    """
    stack = _script("tracking_stack")
    try:
        stack.postgres_bindir()
    except stack.StackError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(exc))
    running = stack.start(tmp_path_factory.mktemp("tracking-stack"))
    try:
        yield running
    finally:
        stack.stop(running)


def _script(name: str) -> Any:
    """Import a helper from scripts/ (not a package) by its file."""
    path = REPO / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
