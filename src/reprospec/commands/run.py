"""`reprospec run`: build when stale, run the stages, track, verify."""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from reprospec import __version__, compose, gates, guards, snapshots, tracking
from reprospec.builder import STATE_DIR, Compiled, bundle_dir, ensure_built
from reprospec.compose import LoadedSpec
from reprospec.environment import environment_digest
from reprospec.errors import GateFailed, SnapshotMismatch, StageFailed
from reprospec.locking import exclusive, raise_on_sigterm
from reprospec.runner import StageRun, interrupted, repro

log = logging.getLogger("reprospec")


def run(args: argparse.Namespace) -> int:
    """Run the spec's pipeline once and check it against snapshots and gates."""
    loaded = compose.load(args.spec, args.overrides)
    raise_on_sigterm()
    with exclusive(loaded, "run"):
        return _run_locked(loaded, args)


def _run_locked(loaded: LoadedSpec, args: argparse.Namespace) -> int:
    run_state = _run_state_paths(loaded)
    dirty = guards.dirty_paths(loaded.root, run_state)
    if dirty and not args.allow_dirty:
        guards.check_clean(loaded.root, run_state, loaded.relpath)
    guards.check_variables(loaded.spec.environment.required_env, loaded.relpath)
    compiled, changed = ensure_built(loaded)
    if changed:
        log.info("rebuilt %s (%d files changed)", compiled.path, len(changed))
    guards.check_environment(
        compiled.lock.text, f"{_relative(loaded, compiled.path)}/requirements-lock.txt"
    )
    context = RunContext(loaded, compiled, dirty=bool(dirty))
    try:
        result = repro(loaded, compiled.path, force=args.force)
    except KeyboardInterrupt:
        run_id = _track(context, interrupted(context.start_ms), "not-run", "KILLED")
        log.error("interrupted: MLflow run %s is marked KILLED", run_id)
        raise
    return _conclude(context, result)


def _conclude(context: RunContext, result: StageRun) -> int:
    loaded = context.loaded
    differences = snapshots.compare(loaded.spec, result.digests)
    verdict = _verdict(loaded, result, differences)
    status = "FINISHED" if result.returncode == 0 else "FAILED"
    run_id = _track(context, result, verdict, status)
    if result.returncode != 0:
        raise StageFailed(
            f"a stage of {loaded.relpath} failed (dvc repro exited "
            f"{result.returncode}); its output is above. MLflow run {run_id} is "
            "marked FAILED"
        )
    snapshots.save_last_run(
        last_run_path(loaded, context.compiled), run_id, result.digests
    )
    _report(run_id, result)
    if differences:
        print(snapshots.table(differences))
        raise SnapshotMismatch(
            f"{len(differences)} output(s) differ from the snapshots in "
            f"{loaded.relpath}; if the change is intended, record it with: "
            f"reprospec snapshot {loaded.relpath} --update"
        )
    failed = gates.failures(loaded.spec, result.metrics)
    if failed:
        raise GateFailed("gate(s) failed:\n  " + "\n  ".join(failed))
    return 0


@dataclass
class RunContext:
    """What a run knows before its stages start."""

    loaded: LoadedSpec
    compiled: Compiled
    dirty: bool
    start_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)


def _run_state_paths(loaded: LoadedSpec) -> list[str]:
    """Return the files runs write into the committed bundle (not inputs)."""
    bundle = bundle_dir(loaded).relative_to(loaded.root).as_posix()
    metrics = [m for _, st in loaded.spec.stages.ordered() for m in st.metrics]
    return [f"{bundle}/dvc.lock", *(f"{bundle}/{m}" for m in metrics)]


def _relative(loaded: LoadedSpec, path: Path) -> str:
    return path.relative_to(loaded.root).as_posix()


def last_run_path(loaded: LoadedSpec, compiled: Compiled) -> Path:
    """Return where the latest run of this bundle is remembered."""
    return loaded.root / STATE_DIR / "last-run" / f"{compiled.path.name}.json"


def _verdict(
    loaded: LoadedSpec, result: StageRun, diffs: list[snapshots.Difference]
) -> str:
    if result.returncode != 0:
        return "not-run"
    if not loaded.spec.snapshots.outputs:
        return "none-recorded"
    return "mismatch" if diffs else "match"


def _report(run_id: str, result: StageRun) -> None:
    print(f"run {run_id}")
    for path, digest in sorted(result.digests.items()):
        print(f"  {path}  {digest}")
    for name, value in sorted(result.metrics.items()):
        print(f"  {name} = {value:g}")


def _track(context: RunContext, result: StageRun, verdict: str, status: str) -> str:
    loaded, compiled = context.loaded, context.compiled
    spec = loaded.spec
    commit = (guards.git(loaded.root, "rev-parse", "HEAD") or "none").strip()
    tags = {
        "git_commit": commit,
        "git_dirty": str(context.dirty).lower(),
        "spec": loaded.relpath,
        "spec_digest": spec.digest(),
        "overrides": json.dumps(list(loaded.overrides)),
        "data_version": result.data_version,
        "environment_digest": environment_digest(compiled.lock.text),
        "start_time": _iso(result.start_ms),
        "end_time": _iso(result.end_ms),
        "reprospec_version": __version__,
        "snapshot_verdict": verdict,
        "seed": str(spec.seed),
        "threads": str(spec.determinism.threads),
    }
    with tempfile.TemporaryDirectory() as tmp:
        extra = [Path(tmp, "digests.json")]
        extra[0].write_text(json.dumps(result.digests, indent=2, sort_keys=True) + "\n")
        if context.dirty:
            extra.append(Path(tmp, "git-diff.patch"))
            extra[1].write_text(guards.working_diff(loaded.root))
        record = tracking.RunRecord(
            experiment=f"{spec.team}/{spec.project}/{_short(result.data_version)}",
            run_name=spec.name,
            start_ms=result.start_ms,
            end_ms=result.end_ms,
            status=status,
            params=flat_params(spec.stage_params()),
            tags=tags,
            metrics=result.metrics,
            artifacts=(*(compiled.path / name for name in _ARTIFACTS), *extra),
        )
        uri = tracking.tracking_uri(loaded.root, spec.tracking.uri)
        return tracking.record(uri, loaded.root, record)


_ARTIFACTS = ("spec.yaml", "requirements-lock.txt", "environment.yml", "dvc.lock")


def flat_params(data: dict[str, object], prefix: str = "") -> dict[str, str]:
    """Return nested params as dotted keys with string values."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(flat_params(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = (
                json.dumps(value) if not isinstance(value, str) else value
            )
    return flat


def _short(digest: str) -> str:
    return digest.removeprefix("sha256:")[:12]


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
