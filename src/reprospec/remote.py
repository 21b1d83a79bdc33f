"""Keep a bundle's data on the spec's DVC remote: configure, push, pull, compare."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from reprospec.compose import LoadedSpec
from reprospec.errors import DataVersionMismatch, StageFailed, UsageError
from reprospec.runner import QUIET_TOOLS, dvc_root, ensure_dvc
from reprospec.spec import DvcRemote

log = logging.getLogger("reprospec")

# What `dvc status --cloud` says of a recorded output, and what to do about it.
ADVICE = {
    "new": "only in the local cache, not on the remote: push it",
    "deleted": "only on the remote, not in the local cache: pull it",
}
# Data that is nowhere yet (a new project, a fresh clone before anyone pushed) is
# made by the run itself; refusing it would leave nothing to push or pull.
UNRECORDED = "missing"


def remote_of(loaded: LoadedSpec) -> DvcRemote:
    """Return the spec's DVC remote, or refuse when it names none."""
    remote = loaded.spec.dvc_remote
    if remote is None:
        raise UsageError(
            f"{loaded.relpath} names no DVC remote; add one to the spec, e.g. "
            "dvc_remote: {name: storage, url: s3://bucket/path}"
        )
    return remote


def remote_url(loaded: LoadedSpec, remote: DvcRemote) -> str:
    """Return the remote's URL, a relative folder made absolute from the root."""
    if "://" in remote.url or Path(remote.url).is_absolute():
        return remote.url
    return str((loaded.root / remote.url).resolve())


def configure(loaded: LoadedSpec, bundle: Path) -> Path:
    """Point the bundle's DVC repository at the spec's remote; return the repo.

    The setting goes to DVC's local config (git-ignored), so the spec stays the
    one place a remote is named and a clone needs no extra step.
    """
    remote = remote_of(loaded)
    repo = dvc_root(loaded, bundle)
    ensure_dvc(repo, private=repo != loaded.root)
    url = remote_url(loaded, remote)
    _dvc(repo, ["remote", "add", "--local", "--force", remote.name, url])
    return repo


def transfer(loaded: LoadedSpec, bundle: Path, verb: str) -> None:
    """Push or pull every recorded output of the bundle's pipeline."""
    _require_record(loaded, bundle)
    repo = configure(loaded, bundle)
    remote = remote_of(loaded)
    pipeline = (bundle / "dvc.yaml").relative_to(repo).as_posix()
    child = subprocess.run(
        [sys.executable, "-m", "dvc", verb, "--remote", remote.name, pipeline],
        cwd=repo,
        env={**os.environ, **QUIET_TOOLS},
        stdout=sys.stderr,
        check=False,
    )
    if child.returncode != 0:
        raise StageFailed(
            f"dvc {verb} to remote {remote.name!r} failed (exit {child.returncode}); "
            "its output is above"
        )


def differences(loaded: LoadedSpec, bundle: Path) -> dict[str, str]:
    """Return {data path: status} where the local data and the remote differ.

    The data is what the ingest stage wrote, as dvc.lock records it: the input
    of every later stage, and what the run's data_version digests. The answer
    comes from `dvc status --cloud --json`, whose exit code is 0 either way.
    """
    if not (bundle / "dvc.lock").is_file():
        return {}
    repo = configure(loaded, bundle)
    remote = remote_of(loaded)
    pipeline = (bundle / "dvc.yaml").relative_to(repo).as_posix()
    text = _dvc(repo, ["status", "--cloud", "--json", "-r", remote.name, pipeline])
    try:
        status = json.loads(text or "{}")
    except json.JSONDecodeError:
        raise StageFailed(f"dvc status --cloud printed no JSON:\n{text}") from None
    prefix = bundle.relative_to(repo).as_posix()
    data = set(loaded.spec.stages.ingest.outs)
    found = {}
    for path, state in status.items():
        relative = path.removeprefix(f"{prefix}/") if prefix != "." else path
        if relative in data:
            found[relative] = str(state)
    return dict(sorted(found.items()))


def check(loaded: LoadedSpec, bundle: Path) -> None:
    """Refuse a run whose recorded data differs from the spec's DVC remote."""
    if loaded.spec.dvc_remote is None:
        return
    if os.environ.get("REPROSPEC_REPLAY_OF"):
        # A replay rebuilds every output from scratch in an empty worktree and
        # judges them by their digests; the remote has nothing to add.
        return
    found = differences(loaded, bundle)
    remote = loaded.spec.dvc_remote
    for path in [p for p, state in found.items() if state == UNRECORDED]:
        log.warning(
            "%s is neither in the local cache nor on DVC remote %r; this run makes "
            "it, then share it with: reprospec push %s",
            path,
            remote.name,
            loaded.relpath,
        )
        del found[path]
    if not found:
        return
    rows = "\n".join(
        f"  {path}: {state} ({ADVICE.get(state, 'see dvc status --cloud')})"
        for path, state in found.items()
    )
    overrides = "".join(f" {o}" for o in loaded.overrides)
    raise DataVersionMismatch(
        f"the local data differs from DVC remote {remote.name!r} ({remote.url}):\n"
        f"{rows}\n  bring them in line with: reprospec pull {loaded.relpath}"
        f"{overrides}  or  reprospec push {loaded.relpath}{overrides}"
    )


def _require_record(loaded: LoadedSpec, bundle: Path) -> None:
    if not (bundle / "dvc.lock").is_file():
        raise UsageError(
            f"{bundle.relative_to(loaded.root)}/dvc.lock does not exist, so no data "
            f"is recorded yet; run the spec first: reprospec run {loaded.relpath}"
        )


def _dvc(repo: Path, args: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=repo,
        env={**os.environ, **QUIET_TOOLS},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise StageFailed(
            f"dvc {' '.join(args[:2])} failed (exit {done.returncode}):\n"
            f"{done.stderr.strip()}"
        )
    return done.stdout.strip()
