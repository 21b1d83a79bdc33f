"""`reprospec replay RUN`: rebuild a past run's bundle at its commit, run, compare."""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from reprospec import runs, snapshots
from reprospec.compose import find_root
from reprospec.errors import ReprospecError, SnapshotMismatch, UsageError
from reprospec.guards import git
from reprospec.lock import INPUTS_PREFIX
from reprospec.spec import Snapshots

log = logging.getLogger("reprospec")


def run(args: argparse.Namespace) -> int:
    """Replay a recorded run in a temporary worktree and compare its digests."""
    recorded = runs.fetch(args.run, args.tracking_uri)
    expected = recorded.artifact_json("digests.json")
    spec = recorded.tags.get("spec")
    commit = recorded.tags.get("git_commit", "none")
    if not expected or not spec or commit == "none":
        raise UsageError(
            f"run {args.run} lacks what a replay needs (digests.json, the spec "
            "tag and a git commit); only runs made by `reprospec run` in a git "
            "repository can be replayed"
        )
    root = find_root(Path.cwd() / "spec.yaml")
    uri = runs.store_uri(args.tracking_uri)
    with tempfile.TemporaryDirectory(prefix="reprospec-replay-") as tmp:
        tree = Path(tmp, "tree")
        _checkout(root, commit, tree)
        try:
            actual = _replay_in(tree, recorded, spec, uri)
        finally:
            git(root, "worktree", "remove", "--force", str(tree))
    return _compare(args.run, expected, actual)


def _checkout(root: Path, commit: str, tree: Path) -> None:
    done = subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), commit],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise UsageError(
            f"cannot check out commit {commit} of the recorded run: "
            f"{done.stderr.strip()}; fetch it into this repository first"
        )


def _replay_in(
    tree: Path, recorded: runs.RecordedRun, spec: str, uri: str
) -> dict[str, str]:
    flags = ["--force"]
    patch = recorded.artifact("git-diff.patch")
    if recorded.tags.get("git_dirty") == "true" and patch:
        _apply(tree, patch)
        flags.append("--allow-dirty")
    _seed_lock_cache(tree, recorded.artifact("requirements-lock.txt"))
    overrides = json.loads(recorded.tags.get("overrides", "[]"))
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "REPROSPEC_REPLAY_OF": recorded.run_id,
    }
    command = [sys.executable, "-m", "reprospec", "run", spec, *overrides, *flags]
    log.info("replaying run %s: %s", recorded.run_id, " ".join(command[2:]))
    done = subprocess.run(command, cwd=tree, env=env, stdout=sys.stderr, check=False)
    if done.returncode not in (0, 3, 5):
        raise ReprospecError(
            f"the replay of run {recorded.run_id} could not run (exit "
            f"{done.returncode}); its output is above"
        )
    last = sorted(Path(tree, ".reprospec", "last-run").glob("*.json"))
    loaded = snapshots.load_last_run(last[-1]) if last else None
    if loaded is None:
        raise ReprospecError(f"the replay of run {recorded.run_id} recorded no outputs")
    return loaded.digests


def _apply(tree: Path, patch: str) -> None:
    body = "".join(
        line + "\n"
        for line in patch.splitlines()
        if not line.startswith("# untracked:")
    )
    if body.strip():
        subprocess.run(
            ["git", "apply", "--whitespace=nowarn", "-"],
            cwd=tree,
            input=body,
            text=True,
            check=True,
        )
    if "# untracked:" in patch:
        log.warning(
            "the recorded run had untracked files, which a replay cannot restore"
        )


def _seed_lock_cache(tree: Path, lock_text: str | None) -> None:
    """Offer the recorded lock to the build, so the replay resolves nothing."""
    if not lock_text:
        return
    for line in lock_text.splitlines():
        if line.startswith(INPUTS_PREFIX):
            digest = line.removeprefix(INPUTS_PREFIX).removeprefix("sha256:")
            cache = Path(tree, ".reprospec", "locks")
            cache.mkdir(parents=True, exist_ok=True)
            (cache / f"{digest}.txt").write_text(lock_text)


def _compare(run_id: str, expected: dict[str, str], actual: dict[str, str]) -> int:
    differences = snapshots.compare(Snapshots(outputs=expected), actual)
    if differences:
        print(snapshots.table(differences))
        raise SnapshotMismatch(
            f"the replay of run {run_id} gave {len(differences)} different "
            f"output(s); compare the two runs with `reprospec diff`"
        )
    print(f"replay of run {run_id}: {len(expected)} output(s) identical")
    return 0
