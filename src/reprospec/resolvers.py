"""Run a resolver, uv or pip-tools, over requirements.in into a hashed lock body."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reprospec.errors import LockError, UsageError

RESOLVERS = ("uv", "pip-tools")
# uv's target triples for the platforms a spec may name.
UV_PLATFORMS = {
    "linux-x86_64": "x86_64-unknown-linux-gnu",
    "linux-aarch64": "aarch64-unknown-linux-gnu",
    "macos-arm64": "aarch64-apple-darwin",
}


@dataclass(frozen=True)
class Upgrade:
    """Which pins a resolution may move: none, all, or the named packages.

    A package given as NAME==VERSION moves to exactly that version.
    """

    everything: bool = False
    packages: tuple[str, ...] = field(default_factory=tuple)

    def names(self) -> list[str]:
        """Return the package names to upgrade, without versions."""
        return [p.split("==")[0].strip() for p in self.packages]

    def constraints(self) -> list[str]:
        """Return the NAME==VERSION requests as constraint lines."""
        return [p.replace(" ", "") for p in self.packages if "==" in p]


@dataclass(frozen=True)
class Request:
    """One resolution: the input file, the target and what may move."""

    requirements_in: str
    python: str
    platforms: tuple[str, ...]
    seed: str | None
    upgrade: Upgrade
    # (path relative to the project, content): copied into the resolver's folder
    # under the same relative path, so the lock's annotations name no machine path.
    constraints: tuple[tuple[str, str], ...] = ()


def run(resolver: str, request: Request) -> str:
    """Return the hashed requirements body the resolver writes for request."""
    if resolver not in RESOLVERS:
        raise UsageError(
            f"unknown resolver {resolver!r}; choose one of {', '.join(RESOLVERS)}"
        )
    with tempfile.TemporaryDirectory(prefix="reprospec-lock-") as tmp:
        folder = Path(tmp)
        (folder / "requirements.in").write_text(request.requirements_in)
        if request.seed is not None:
            (folder / "requirements-lock.txt").write_text(request.seed)
        if request.upgrade.constraints():
            lines = "\n".join(request.upgrade.constraints()) + "\n"
            (folder / "upgrade-constraints.txt").write_text(lines)
        for relpath, content in request.constraints:
            (folder / relpath).parent.mkdir(parents=True, exist_ok=True)
            (folder / relpath).write_text(content)
        command = _uv(request) if resolver == "uv" else _pip_tools(request)
        done = subprocess.run(
            command,
            cwd=folder,
            env=_isolated_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise LockError(
                f"{resolver} cannot resolve the spec's environment.requirements:\n"
                + done.stderr.strip()[-4000:]
                + "\n  fix the requirement named above in the spec, or relax its pin"
            )
        body = (folder / "requirements-lock.txt").read_text()
    _refuse_machine_paths(body, folder)
    return body


def describe(resolver: str) -> str:
    """Return the resolver's name and version, for the lock's header."""
    if resolver == "uv":
        return f"uv {_version('uv')} (uv pip compile --generate-hashes)"
    return f"pip-tools {_version('pip-tools')} (pip-compile --generate-hashes)"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "(version unknown)"


def _uv(request: Request) -> list[str]:
    command = [
        uv_binary(),
        "pip",
        "compile",
        "requirements.in",
        "--generate-hashes",
        "--python-version",
        request.python,
        *_platform_args(request.platforms),
        "--no-header",
        "--no-emit-index-url",
        "--no-emit-find-links",
        "--quiet",
        "-o",
        "requirements-lock.txt",
    ]
    return (
        command + _upgrade_args(request.upgrade) + _constraints(request) + _find_links()
    )


def _platform_args(platforms: Sequence[str]) -> list[str]:
    if len(platforms) == 1:
        return ["--python-platform", UV_PLATFORMS[platforms[0]]]
    # One lock for several platforms: uv resolves for all of them at once and
    # keeps the markers that tell pip which pins apply where.
    return ["--universal"]


def _pip_tools(request: Request) -> list[str]:
    host = f"{sys.version_info.major}.{sys.version_info.minor}"
    wanted = ".".join(request.python.split(".")[:2])
    if wanted != host:
        raise UsageError(
            f"pip-compile resolves for the Python it runs under ({host}), not the "
            f"spec's {request.python}; use --resolver uv, or run reprospec under "
            f"Python {wanted}"
        )
    if len(request.platforms) != 1 or request.platforms[0] != "linux-x86_64":
        raise UsageError(
            "pip-compile resolves for this machine's platform only; lock "
            f"{', '.join(request.platforms)} with --resolver uv"
        )
    command = [
        sys.executable,
        "-m",
        "piptools",
        "compile",
        "requirements.in",
        "--generate-hashes",
        "--allow-unsafe",
        "--no-header",
        "--no-emit-index-url",
        "--no-emit-find-links",
        "--no-emit-trusted-host",
        "--strip-extras",
        "--quiet",
        "--output-file",
        "requirements-lock.txt",
    ]
    return (
        command + _upgrade_args(request.upgrade) + _constraints(request) + _find_links()
    )


def _isolated_env() -> dict[str, str]:
    # pip-compile reads pip's configuration files, whose indexes and constraints
    # belong to this machine, not to the spec: the lock follows the spec alone.
    return {**os.environ, "PIP_CONFIG_FILE": os.devnull}


def _upgrade_args(upgrade: Upgrade) -> list[str]:
    args = ["--upgrade"] if upgrade.everything else []
    for name in upgrade.names():
        args += ["--upgrade-package", name]
    if upgrade.constraints():
        args += ["--constraint", "upgrade-constraints.txt"]
    return args


def _constraints(request: Request) -> list[str]:
    args = []
    for relpath, _ in request.constraints:
        args += ["--constraint", relpath]
    return args


def _find_links() -> list[str]:
    args = []
    for link in machine_find_links():
        args += ["--find-links", link]
    return args


def uv_binary() -> str:
    """Return the path of the uv executable shipped with the uv package."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise LockError(
                "uv is not installed; install it with 'pip install uv'"
            ) from None
        return found


def machine_find_links() -> list[str]:
    """Return this machine's own find-links folders: used, never written."""
    raw = os.environ.get("UV_FIND_LINKS") or os.environ.get("PIP_FIND_LINKS") or ""
    return raw.split()


def _refuse_machine_paths(body: str, folder: Path) -> None:
    for link in [*machine_find_links(), str(folder), str(Path.cwd())]:
        if link in body:
            raise RuntimeError(f"the lock names the machine-local folder {link}")
