"""`reprospec run`: build when stale, run the stages, track, verify."""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reprospec import (
    __version__,
    card,
    compose,
    fingerprint,
    gates,
    guards,
    lock,
    remote,
    repeat,
    snapshots,
    tracking,
)
from reprospec.builder import STATE_DIR, Compiled, bundle_dir, ensure_built
from reprospec.compose import LoadedSpec
from reprospec.environment import determinism_settings, environment_digest
from reprospec.errors import GateFailed, SnapshotMismatch, StageFailed
from reprospec.locking import exclusive, raise_on_sigterm
from reprospec.runner import StageRun, interrupted, repro
from reprospec.spec import Snapshots, Spec

log = logging.getLogger("reprospec")


def run(args: argparse.Namespace) -> int:
    """Run the spec's pipeline once and check it against snapshots and gates."""
    if getattr(args, "multirun", False):
        from reprospec import sweep

        return sweep.run(args)
    loaded = compose.load(args.spec, args.overrides)
    outcome = execute(loaded, args, loaded.spec.snapshots)
    return judge(outcome, "")


@dataclass(frozen=True)
class Outcome:
    """A finished run and how it compares with its snapshot record."""

    loaded: LoadedSpec
    run_id: str
    result: StageRun
    differences: list[snapshots.Difference]
    gate_failures: list[str]
    environment_note: str


def execute(loaded: LoadedSpec, args: argparse.Namespace, record: Snapshots) -> Outcome:
    """Guard, build, run and track once; compare with record. Raise on refusal."""
    raise_on_sigterm()
    with exclusive(loaded, "run"):
        return _run_locked(loaded, args, record)


def judge(outcome: Outcome, update_flag: str) -> int:
    """Raise the error that the outcome calls for, or return 0."""
    relpath = outcome.loaded.relpath
    if outcome.differences:
        print(snapshots.table(outcome.differences))
        raise SnapshotMismatch(
            f"{len(outcome.differences)} output(s) differ from the snapshots in "
            f"{relpath}{outcome.environment_note}; if the change is intended, "
            f"record it with: reprospec snapshot {relpath} --update{update_flag}"
        )
    if outcome.gate_failures:
        raise GateFailed("gate(s) failed:\n  " + "\n  ".join(outcome.gate_failures))
    return 0


def _run_locked(
    loaded: LoadedSpec, args: argparse.Namespace, record: Snapshots
) -> Outcome:
    run_state = _run_state_paths(loaded)
    dirty = guards.dirty_paths(loaded.root, run_state)
    if dirty and not args.allow_dirty:
        guards.check_clean(loaded.root, run_state, loaded.relpath)
    guards.check_variables(loaded.spec.environment.required_env, loaded.relpath)
    tracking.check_reachable(
        tracking.tracking_uri(loaded.root, loaded.spec.tracking.uri)
    )
    compiled, changed = ensure_built(loaded)
    if changed:
        log.info("rebuilt %s (%d files changed)", compiled.path, len(changed))
    guards.check_environment(
        compiled.lock.text, f"{_relative(loaded, compiled.path)}/requirements-lock.txt"
    )
    remote.check(loaded, compiled.path)
    context = RunContext(loaded, compiled, dirty=bool(dirty), record=record)
    context.tags.update(getattr(args, "run_tags", None) or {})
    try:
        result = _reproduce(loaded, compiled, args)
    except KeyboardInterrupt:
        run_id = _track(context, interrupted(context.start_ms), "not-run", "KILLED")
        log.error("interrupted: MLflow run %s is marked KILLED", run_id)
        raise
    return _conclude(context, result)


def _reproduce(
    loaded: LoadedSpec, compiled: Compiled, args: argparse.Namespace
) -> StageRun:
    times = getattr(args, "repeat", None)
    if times is None:
        return repro(loaded, compiled.path, force=getattr(args, "force", False))
    return repeat.repeat(loaded, compiled.path, times)


def _conclude(context: RunContext, result: StageRun) -> Outcome:
    loaded, record = context.loaded, context.record
    differences = snapshots.compare(record, result.digests)
    verdict = _verdict(record, result, differences)
    status = "FINISHED" if result.returncode == 0 else "FAILED"
    run_id = _track(context, result, verdict, status)
    if result.returncode != 0:
        raise StageFailed(
            f"a stage of {loaded.relpath} failed (dvc repro exited "
            f"{result.returncode}); its output is above. MLflow run {run_id} is "
            "marked FAILED"
        )
    registered = _register(context, result, run_id, verdict)
    env_digest = environment_digest(context.compiled.lock.text)
    snapshots.save_last_run(
        last_run_path(loaded, context.compiled),
        snapshots.LastRun(
            run_id, result.digests, result.metrics, env_digest, loaded.spec.digest()
        ),
    )
    _report(run_id, result, registered)
    note = ""
    if record.environment_digest and record.environment_digest != env_digest:
        note = (
            f" (the environment changed since they were recorded: "
            f"{record.environment_digest} then, {env_digest} now)"
        )
        log.warning("the environment changed since the snapshots were recorded")
    failed = gates.failures(loaded.spec, result.metrics, record.metrics)
    return Outcome(loaded, run_id, result, differences, failed, note)


@dataclass
class RunContext:
    """What a run knows before its stages start."""

    loaded: LoadedSpec
    compiled: Compiled
    dirty: bool
    record: Snapshots
    start_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)
    tags: dict[str, str] = field(default_factory=dict)


def _run_state_paths(loaded: LoadedSpec) -> list[str]:
    """Return the records runs write into bundles (dvc.lock, metrics), not inputs.

    Every committed bundle counts, not only this spec's: running one example
    updates its dvc.lock, which must not block a run of another.
    """
    written = [m for _, st in loaded.spec.stages.ordered() for m in st.metrics]
    paths = [f"{_relative(loaded, bundle_dir(loaded))}/{m}" for m in written]
    paths.append(f"{_relative(loaded, bundle_dir(loaded))}/dvc.lock")
    for pipeline in sorted((loaded.root / "build").glob("*/dvc.yaml")):
        prefix = _relative(loaded, pipeline.parent)
        paths += [f"{prefix}/dvc.lock", *(f"{prefix}/{m}" for m in _metrics(pipeline))]
    return sorted(set(paths))


def _metrics(pipeline: Path) -> list[str]:
    import yaml

    try:
        stages = (yaml.safe_load(pipeline.read_text()) or {}).get("stages", {})
    except (OSError, yaml.YAMLError):
        return []
    found = []
    for stage in stages.values():
        for entry in stage.get("metrics", []):
            found += list(entry) if isinstance(entry, dict) else [entry]
    return [str(path) for path in found]


def _relative(loaded: LoadedSpec, path: Path) -> str:
    return path.relative_to(loaded.root).as_posix()


def last_run_path(loaded: LoadedSpec, compiled: Compiled) -> Path:
    """Return where the latest run of this bundle is remembered."""
    return loaded.root / STATE_DIR / "last-run" / f"{compiled.path.name}.json"


def _verdict(
    record: Snapshots, result: StageRun, diffs: list[snapshots.Difference]
) -> str:
    if result.returncode != 0:
        return "not-run"
    if not record.outputs:
        return "none-recorded"
    return "mismatch" if diffs else "match"


def _report(run_id: str, result: StageRun, registered: list[str]) -> None:
    print(f"run {run_id}")
    for path, digest in sorted(result.digests.items()):
        print(f"  {path}  {digest}")
    for name, value in sorted(result.metrics.items()):
        print(f"  {name} = {value:g}")
    for uri in registered:
        print(f"  model {uri}")


def _register(
    context: RunContext, result: StageRun, run_id: str, verdict: str
) -> list[str]:
    """Register the models the run logged, each version tagged with how it was made."""
    if not result.models:
        return []
    loaded, spec = context.loaded, context.loaded.spec
    commit = (guards.git(loaded.root, "rev-parse", "HEAD") or "none").strip()
    tags = {
        "spec": loaded.relpath,
        "overrides": json.dumps(list(loaded.overrides)),
        "spec_digest": spec.digest(),
        "environment_digest": environment_digest(context.compiled.lock.text),
        "data_version": result.data_version,
        "seed": str(spec.seed),
        "git_commit": commit,
        "snapshot_verdict": verdict,
        **context.tags,
    }
    names = {out: model_name(spec, out, len(result.models)) for out in result.models}
    uri = tracking.tracking_uri(loaded.root, spec.tracking.uri)
    return tracking.register(uri, run_id, names, tags)


def model_name(spec: Spec, out: str, count: int) -> str:
    """Return the registered name of a model: TEAM.PROJECT.NAME, plus its folder."""
    name = f"{spec.team}.{spec.project}.{spec.name}"
    return name if count == 1 else f"{name}.{out.replace('/', '-')}"


def _track(context: RunContext, result: StageRun, verdict: str, status: str) -> str:
    loaded, compiled = context.loaded, context.compiled
    spec = loaded.spec
    commit = (guards.git(loaded.root, "rev-parse", "HEAD") or "none").strip()
    machine = fingerprint.take()
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
        **run_conditions(spec, machine),
        **context.tags,
    }
    if os.environ.get("REPROSPEC_REPLAY_OF"):
        tags["replay_of"] = os.environ["REPROSPEC_REPLAY_OF"]
    with tempfile.TemporaryDirectory() as tmp:
        extra = [Path(tmp, "digests.json")]
        extra[0].write_text(json.dumps(result.digests, indent=2, sort_keys=True) + "\n")
        if context.dirty:
            extra.append(Path(tmp, "git-diff.patch"))
            extra[1].write_text(guards.working_diff(loaded.root))
        extra.append(Path(tmp, "fingerprint.json"))
        extra[-1].write_text(json.dumps(machine, indent=2, sort_keys=True) + "\n")
        card_dir = Path(tmp, "card")
        _write_card(card_dir, context, result, tags, machine)
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
        # Each saved model is logged under its own path, e.g. models/mlflow-model.
        folders = {"card": card_dir, **{m: compiled.path / m for m in result.models}}
        return tracking.record(uri, loaded.root, record, folders=folders)


def _write_card(
    folder: Path,
    context: RunContext,
    result: StageRun,
    tags: dict[str, str],
    machine: dict[str, Any],
) -> None:
    loaded, compiled = context.loaded, context.compiled
    spec = loaded.spec
    plots = {}
    for _, stage in spec.stages.ordered():
        for plot in stage.plots:
            path = compiled.path / plot
            if path.is_file():
                plots[plot] = json.loads(path.read_text())
    data = {
        "name": spec.name,
        "spec": loaded.relpath,
        "overrides": list(loaded.overrides),
        "params": flat_params(spec.stage_params()),
        "git_commit": tags["git_commit"],
        "git_dirty": context.dirty,
        "data_version": result.data_version,
        "environment_digest": tags["environment_digest"],
        "key_pins": card.key_pins(lock.pins(compiled.lock.text)),
        "seed": spec.seed,
        "determinism": determinism_settings(spec),
        "platform": fingerprint.tags(machine),
        "metrics": result.metrics,
        "snapshot_verdict": tags["snapshot_verdict"],
        "digests": result.digests,
        "plots": plots,
        "start_time": tags["start_time"],
        "end_time": tags["end_time"],
    }
    for name, blob in card.files(data).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)


def run_conditions(spec: Spec, machine: dict[str, Any]) -> dict[str, str]:
    """Return the tags that say how and where a run ran: determinism, platform."""
    settings = determinism_settings(spec)
    return {
        **{f"determinism.{key}": value for key, value in settings.items()},
        **fingerprint.tags(machine),
    }


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
