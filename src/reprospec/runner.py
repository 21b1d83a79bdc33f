"""Run a bundle's stages through DVC and gather what the run produced."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reprospec import prewarm
from reprospec.builder import STATE_DIR
from reprospec.compose import LoadedSpec
from reprospec.digest import output_digest
from reprospec.environment import launch_env
from reprospec.errors import StageFailed
from reprospec.model import is_model
from reprospec.spec import canonical_json
from reprospec.tool_env import QUIET_TOOLS as QUIET_TOOLS


@dataclass(frozen=True)
class StageRun:
    """What `dvc repro` left behind: timing, outputs and metrics."""

    start_ms: int
    end_ms: int
    returncode: int
    digests: dict[str, str]
    metrics: dict[str, float]
    data_version: str
    models: tuple[str, ...] = ()  # folder outs holding a model saved by MLflow


def child_env(loaded: LoadedSpec) -> dict[str, str]:
    """Return the environment the stage interpreters start with."""
    env = {**os.environ, **QUIET_TOOLS, **launch_env(loaded.spec)}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


def dvc_root(loaded: LoadedSpec, bundle: Path) -> Path:
    """Return the DVC repository a bundle's pipeline runs in.

    Bundles built with overrides live in a git-ignored folder, which DVC refuses
    inside a git repository; each is therefore a DVC repository of its own,
    without git, so runs of different overrides never wait on one DVC lock.
    """
    private = loaded.root / STATE_DIR / "bundles"
    return bundle if bundle.is_relative_to(private) else loaded.root


def ensure_dvc(root: Path, private: bool) -> None:
    """Initialise DVC at root when it has no .dvc folder yet."""
    if (root / ".dvc").is_dir():
        return
    root.mkdir(parents=True, exist_ok=True)
    scm = ["--no-scm"] if private or not (root / ".git").exists() else []
    if _dvc(root, ["init", "--quiet", *scm]) != 0:
        raise StageFailed(f"cannot initialise DVC in {root}; its output is above")
    _dvc(root, ["config", "core.analytics", "false"])


def _dvc(root: Path, args: list[str], env: dict[str, str] | None = None) -> int:
    command = [sys.executable, "-m", "dvc", *args]
    # DVC and its stage processes get a process group of their own, so that an
    # interrupt stops all of them, not only DVC, and nothing is written after.
    child = subprocess.Popen(
        command,
        cwd=root,
        env=env or {**os.environ, **QUIET_TOOLS},
        stdout=sys.stderr,
        start_new_session=True,
    )
    try:
        return child.wait()
    except BaseException:
        _stop_group(child)
        raise


def _stop_group(child: subprocess.Popen[bytes]) -> None:
    """Ask DVC and its stages to stop, then make sure they have."""
    for sig, grace in ((signal.SIGINT, 10.0), (signal.SIGTERM, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig)
        try:
            child.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    # The group outlives DVC when a stage ignores the signals: end it for good.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def repro(loaded: LoadedSpec, bundle: Path, force: bool) -> StageRun:
    """Run `dvc repro` on the bundle's pipeline and digest what it wrote."""
    repo = dvc_root(loaded, bundle)
    ensure_dvc(repo, private=repo != loaded.root)
    pipeline = (bundle / "dvc.yaml").relative_to(repo).as_posix()
    warming = prewarm.start(prewarm.modules(loaded.spec))
    start = _now_ms()
    code = _dvc(
        repo,
        ["repro", *(["--force"] if force else []), pipeline],
        env=child_env(loaded),
    )
    end = _now_ms()
    warming.join()
    if code != 0:
        return StageRun(start, end, code, {}, {}, "unknown")
    return StageRun(
        start_ms=start,
        end_ms=end,
        returncode=0,
        digests=digest_outputs(loaded, bundle),
        metrics=read_metrics(loaded, bundle),
        data_version=data_version(bundle),
        models=model_outputs(loaded, bundle),
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def digest_outputs(loaded: LoadedSpec, bundle: Path) -> dict[str, str]:
    """Return the canonical digest of every declared output but models, by path.

    A saved model records when it was saved, so its bytes change from run to
    run; the weights or predictions the stage also writes carry the digest.
    """
    digests = {}
    for name, stage in loaded.spec.stages.ordered():
        for out in stage.outs:
            path = bundle / out
            if is_model(path):
                continue
            if not path.is_file():
                raise StageFailed(f"stage {name!r} did not write {out}")
            digests[out] = output_digest(path)
    return digests


def model_outputs(loaded: LoadedSpec, bundle: Path) -> tuple[str, ...]:
    """Return the declared outputs that hold a model saved in MLflow's format."""
    return tuple(
        out
        for _, stage in loaded.spec.stages.ordered()
        for out in stage.outs
        if is_model(bundle / out)
    )


def read_metrics(loaded: LoadedSpec, bundle: Path) -> dict[str, float]:
    """Return every numeric value in the metrics files, by dotted key."""
    metrics: dict[str, float] = {}
    for name, stage in loaded.spec.stages.ordered():
        for path in stage.metrics:
            try:
                data = json.loads((bundle / path).read_text())
            except (OSError, ValueError) as exc:
                raise StageFailed(
                    f"stage {name!r} wrote {path}, which is not a JSON file of "
                    f"metrics ({exc}); fix the stage"
                ) from None
            _flatten_numbers(data, "", metrics)
    return metrics


def _flatten_numbers(node: Any, prefix: str, into: dict[str, float]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten_numbers(value, f"{prefix}{key}.", into)
    elif isinstance(node, int | float) and not isinstance(node, bool):
        into[prefix.rstrip(".")] = float(node)


def data_version(bundle: Path) -> str:
    """Return the digest of the ingested data as DVC recorded it in dvc.lock."""
    lock = yaml.safe_load((bundle / "dvc.lock").read_text())
    outs = lock["stages"]["ingest"].get("outs", [])
    entries = sorted((o["path"], o.get("md5", "")) for o in outs)
    return "sha256:" + hashlib.sha256(canonical_json(entries)).hexdigest()


def interrupted(start_ms: int) -> StageRun:
    """Return the record of a run stopped before its stages finished."""
    return StageRun(start_ms, _now_ms(), -2, {}, {}, "unknown")
