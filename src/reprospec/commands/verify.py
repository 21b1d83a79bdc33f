"""`reprospec verify`: the CI gate: bundle in sync, CI-profile run, snapshots, gates."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from reprospec import bundle, compose
from reprospec.builder import compile_spec
from reprospec.commands.run import Outcome, execute, judge
from reprospec.errors import BundleOutOfDate, ReprospecError
from reprospec.spec import Spec


def run(args: argparse.Namespace) -> int:
    """Check the bundle, run the CI profile, and judge snapshots and gates."""
    written = compose.load(args.spec, args.overrides)
    compiled = compile_spec(written)
    changed = bundle.changed_files(compiled.path, compiled.blobs)
    if changed:
        _publish(_stale_summary(written.relpath, changed))
        raise BundleOutOfDate(
            f"the bundle is out of date with {written.relpath}: "
            f"{', '.join(changed)}; run: reprospec build {written.relpath}"
        )
    profile = list(written.spec.ci.overrides)
    loaded = (
        compose.load(args.spec, [*profile, *args.overrides]) if profile else written
    )
    record = written.spec.ci_snapshots if profile else written.spec.snapshots
    args.force = True
    outcome = execute(loaded, args, record)
    _publish(summary(outcome, written.spec, profile))
    return judge(outcome, " --ci" if profile else "")


def _publish(text: str) -> None:
    print(text)
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a") as handle:
            handle.write(text + "\n")


def _stale_summary(relpath: str, changed: list[str]) -> str:
    rows = "\n".join(f"- `{path}`" for path in changed)
    return (
        f"## reprospec verify `{relpath}`: bundle out of date\n\n{rows}\n\n"
        f"Run `reprospec build {relpath}` and commit the result.\n"
    )


def summary(outcome: Outcome, spec: Spec, profile: list[str]) -> str:
    """Return the verdict as Markdown, fit for a pull-request comment."""
    failed = bool(outcome.differences or outcome.gate_failures)
    verdict = "failed" if failed else "passed"
    record = spec.ci_snapshots if profile else spec.snapshots
    lines = [
        f"## reprospec verify `{outcome.loaded.relpath}`: {verdict}",
        "",
        f"- run: `{outcome.run_id}`",
        f"- CI profile: `{' '.join(profile) or 'none (the spec as written)'}`",
        "",
        "| output | recorded | this run | |",
        "| --- | --- | --- | --- |",
    ]
    different = {d.output for d in outcome.differences}
    for path, digest in sorted(outcome.result.digests.items()):
        expected = record.outputs.get(path)
        mark = "-" if expected is None else ("mismatch" if path in different else "ok")
        lines.append(
            f"| `{path}` | `{_short(expected)}` | `{_short(digest)}` | {mark} |"
        )
    lines += [
        "",
        "| metric | value | bounds | baseline | |",
        "| --- | --- | --- | --- | --- |",
    ]
    failing = {line.split(":")[0] for line in outcome.gate_failures}
    for name, value in sorted(outcome.result.metrics.items()):
        gate = spec.gates.get(name)
        bounds = f"[{_num(gate.min)}, {_num(gate.max)}]" if gate else "-"
        base = record.metrics.get(name)
        mark = "failed" if name in failing else ("ok" if gate else "-")
        lines.append(f"| {name} | {value:g} | {bounds} | {_num(base)} | {mark} |")
    if outcome.gate_failures:
        lines += ["", *(f"- gate: {line}" for line in outcome.gate_failures)]
    if outcome.environment_note:
        lines += ["", f"- note: snapshots{outcome.environment_note}"]
    return "\n".join(lines) + "\n"


def _short(digest: str | None) -> str:
    return "-" if digest is None else digest.removeprefix("sha256:")[:16]


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


__all__ = ["ReprospecError", "run", "summary"]
