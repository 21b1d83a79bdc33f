"""`reprospec run`: build when stale, run the stages, track, verify."""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from reprospec import __version__, compose, gates, snapshots, tracking
from reprospec.builder import STATE_DIR, Compiled, ensure_built
from reprospec.compose import LoadedSpec
from reprospec.environment import environment_digest
from reprospec.errors import GateFailed, SnapshotMismatch, StageFailed
from reprospec.runner import StageRun, git_state, repro

log = logging.getLogger("reprospec")


def run(args: argparse.Namespace) -> int:
    """Run the spec's pipeline once and check it against snapshots and gates."""
    loaded = compose.load(args.spec, args.overrides)
    compiled, changed = ensure_built(loaded)
    if changed:
        log.info("rebuilt %s (%d files changed)", compiled.path, len(changed))
    result = repro(loaded, compiled.path, force=args.force)
    differences = snapshots.compare(loaded.spec, result.digests)
    verdict = _verdict(loaded, result, differences)
    run_id = _track(loaded, compiled, result, verdict)
    if result.returncode != 0:
        raise StageFailed(
            f"a stage of {loaded.relpath} failed (dvc repro exited "
            f"{result.returncode}); its output is above. MLflow run {run_id} is "
            "marked FAILED"
        )
    snapshots.save_last_run(last_run_path(loaded, compiled), run_id, result.digests)
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


def _track(
    loaded: LoadedSpec, compiled: Compiled, result: StageRun, verdict: str
) -> str:
    spec = loaded.spec
    commit, dirty = git_state(loaded.root)
    tags = {
        "git_commit": commit,
        "git_dirty": str(dirty).lower(),
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
        digests = Path(tmp, "digests.json")
        digests.write_text(json.dumps(result.digests, indent=2, sort_keys=True) + "\n")
        record = tracking.RunRecord(
            experiment=f"{spec.team}/{spec.project}/{_short(result.data_version)}",
            run_name=spec.name,
            start_ms=result.start_ms,
            end_ms=result.end_ms,
            status="FINISHED" if result.returncode == 0 else "FAILED",
            params=flat_params(spec.stage_params()),
            tags=tags,
            metrics=result.metrics,
            artifacts=(
                *(compiled.path / name for name in _ARTIFACTS),
                digests,
            ),
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
