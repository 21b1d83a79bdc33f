"""Refuse a run that could not be reproduced: dirty tree, drift, missing variables."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from reprospec import secrets
from reprospec.errors import (
    DirtyWorkingTree,
    EnvironmentDrift,
    MissingEnvironmentVariable,
)
from reprospec.lock import pins


def git(root: Path, *args: str) -> str | None:
    """Return git's stdout in root, or None where root is not a git work tree."""
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=False
    )
    return done.stdout if done.returncode == 0 else None


def dirty_paths(root: Path, run_state: Iterable[str]) -> list[str]:
    """Return the changed or untracked paths, leaving out what runs themselves write."""
    status = git(root, "status", "--porcelain", "--untracked-files=all")
    if status is None:
        return []
    ignored = set(run_state)
    paths = [line[3:].split(" -> ")[-1].strip('"') for line in status.splitlines()]
    return sorted(p for p in paths if p and p not in ignored)


def check_clean(root: Path, run_state: Iterable[str], spec_relpath: str) -> None:
    """Refuse when the working tree has changes a run would not record."""
    dirty = dirty_paths(root, run_state)
    if dirty:
        shown = "\n".join(f"  {path}" for path in dirty[:20])
        more = f"\n  ... and {len(dirty) - 20} more" if len(dirty) > 20 else ""
        raise DirtyWorkingTree(
            f"the git working tree has uncommitted changes:\n{shown}{more}\n"
            "  commit or stash them, or run with --allow-dirty to record the run "
            f"as dirty with its diff: reprospec run {spec_relpath} --allow-dirty"
        )


def working_diff(root: Path) -> str:
    """Return the uncommitted diff and the untracked files, for a dirty run's record."""
    diff = git(root, "diff", "HEAD", "--binary") or ""
    untracked = git(root, "ls-files", "--others", "--exclude-standard") or ""
    listing = "".join(f"# untracked: {line}\n" for line in untracked.splitlines())
    return secrets.redact(listing + diff)


def check_variables(names: Iterable[str], spec_relpath: str) -> None:
    """Refuse when a variable the spec requires is unset or empty."""
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise MissingEnvironmentVariable(
            f"{spec_relpath} requires environment.required_env variables that are "
            f"not set: {', '.join(missing)}; set them (the spec names them, never "
            "their values) and run again"
        )


def installed_versions() -> dict[str, str]:
    """Return the version of each distribution installed in this interpreter."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonicalize_name(name), dist.version)
    return found


def drift(lock_text: str, installed: dict[str, str]) -> list[tuple[str, str, str]]:
    """Return (package, locked, installed) for each pin the environment breaks."""
    problems = []
    for name, locked in sorted(pins(lock_text).items()):
        have = installed.get(name)
        if have is None or not _same_version(locked, have):
            problems.append((name, locked, have or "not installed"))
    return problems


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def check_environment(lock_text: str, lock_path: str) -> None:
    """Refuse when the installed packages differ from the bundle's lock."""
    problems = drift(lock_text, installed_versions())
    if problems:
        width = max(len(name) for name, _, _ in problems)
        rows = "\n".join(
            f"  {name:<{width}}  locked {locked:<14} installed {have}"
            for name, locked, have in problems
        )
        raise EnvironmentDrift(
            f"the installed environment differs from {lock_path}:\n{rows}\n"
            f"  install the lock: pip install --require-hashes -r {lock_path}"
        )
