"""`reprospec snapshot --update`: record the latest run's digests in the spec."""

from __future__ import annotations

import argparse

from reprospec import compose, snapshots
from reprospec.builder import compile_spec
from reprospec.commands.run import last_run_path
from reprospec.errors import SpecError, StageFailed, UsageError
from reprospec.runner import digest_outputs


def run(args: argparse.Namespace) -> int:
    """Write the latest run's digests and metrics into the spec's snapshots."""
    if not args.update:
        raise UsageError("say what to do: reprospec snapshot SPEC --update")
    if args.overrides:
        raise UsageError(
            "snapshots belong to the spec as written; run `reprospec snapshot "
            f"{args.spec} --update` without overrides (--ci records the CI profile)"
        )
    written = compose.load(args.spec, [])
    profile = list(written.spec.ci.overrides) if args.ci else []
    loaded = compose.load(args.spec, profile)
    key = "ci_snapshots" if args.ci else "snapshots"
    record = written.spec.ci_snapshots if args.ci else written.spec.snapshots
    compiled = compile_spec(loaded)
    last = snapshots.load_last_run(last_run_path(loaded, compiled))
    command = "verify" if args.ci else "run"
    if last is None:
        raise UsageError(
            f"no run of {loaded.relpath} yet: reprospec {command} {args.spec}"
        )
    if last.spec_digest != loaded.spec.digest():
        raise UsageError(
            f"{written.relpath} changed since run {last.run_id}, so its outputs "
            f"are not this spec's; run `reprospec {command} {args.spec}` first"
        )
    try:
        current = digest_outputs(loaded, compiled.path)
    except StageFailed:
        current = {}
    if current != last.digests:
        raise UsageError(
            f"the outputs in {compiled.path.name} changed since run {last.run_id}; "
            f"run `reprospec {command} {args.spec}` first"
        )
    outputs = _select(last.digests, args.output or list(record.outputs))
    text = written.path.read_text()
    block = snapshots.snapshot_block(key, last, outputs)
    snapshots.write_text_atomic(written.path, snapshots.replace_block(text, key, block))
    try:
        reloaded = compose.load(args.spec, [])
    except SpecError:
        snapshots.write_text_atomic(written.path, text)
        raise
    saved = reloaded.spec.ci_snapshots if args.ci else reloaded.spec.snapshots
    if saved.from_run != last.run_id:
        snapshots.write_text_atomic(written.path, text)
        raise SpecError(
            f"{written.relpath}: the recorded {key} did not survive composition; "
            f"does a config group set '{key}'?"
        )
    print(f"{written.relpath}: recorded {len(outputs)} {key} from run {last.run_id}")
    return 0


def _select(digests: dict[str, str], chosen: list[str]) -> list[str]:
    """Return the chosen outputs; all of them when none is chosen."""
    unknown = sorted(set(chosen) - set(digests))
    if unknown:
        raise UsageError(
            f"--output names {', '.join(unknown)}, which no stage writes; "
            f"choose from {', '.join(sorted(digests))}"
        )
    return sorted(chosen or digests)
