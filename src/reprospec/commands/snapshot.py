"""`reprospec snapshot --update`: record the latest run's digests in the spec."""

from __future__ import annotations

import argparse

from reprospec import compose, snapshots
from reprospec.builder import compile_spec
from reprospec.commands.run import last_run_path
from reprospec.errors import SpecError, UsageError
from reprospec.runner import digest_outputs


def run(args: argparse.Namespace) -> int:
    """Write the digests of the latest run into the spec's snapshots section."""
    if not args.update:
        raise UsageError("say what to do: reprospec snapshot SPEC --update")
    if args.overrides:
        raise UsageError(
            "snapshots belong to the spec as written; run `reprospec snapshot "
            f"{args.spec} --update` without overrides"
        )
    loaded = compose.load(args.spec, [])
    compiled = compile_spec(loaded)
    last = snapshots.load_last_run(last_run_path(loaded, compiled))
    if last is None:
        raise UsageError(f"no run of {loaded.relpath} yet: reprospec run {args.spec}")
    run_id, recorded = last
    current = digest_outputs(loaded, compiled.path)
    if current != recorded:
        raise UsageError(
            f"the outputs in {compiled.path.name} changed since run {run_id}; "
            f"run `reprospec run {args.spec}` first"
        )
    current = _select(current, args.output or list(loaded.spec.snapshots.outputs))
    text = loaded.path.read_text()
    updated = snapshots.replace_block(text, snapshots.snapshot_block(run_id, current))
    snapshots.write_text_atomic(loaded.path, updated)
    try:
        reloaded = compose.load(args.spec, [])
    except SpecError:
        snapshots.write_text_atomic(loaded.path, text)
        raise
    if dict(reloaded.spec.snapshots.outputs) != current:
        snapshots.write_text_atomic(loaded.path, text)
        raise SpecError(
            f"{loaded.relpath}: the recorded snapshots did not survive composition; "
            "does a config group set 'snapshots'?"
        )
    print(f"{loaded.relpath}: recorded {len(current)} snapshot(s) from run {run_id}")
    return 0


def _select(digests: dict[str, str], chosen: list[str]) -> dict[str, str]:
    """Return the digests of the chosen outputs; all of them when none is chosen."""
    unknown = sorted(set(chosen) - set(digests))
    if unknown:
        raise UsageError(
            f"--output names {', '.join(unknown)}, which no stage writes; "
            f"choose from {', '.join(sorted(digests))}"
        )
    return {path: digests[path] for path in chosen} if chosen else digests
