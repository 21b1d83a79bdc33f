"""Compare output digests with a spec's snapshots, and record new ones."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from reprospec.quoting import yaml_scalar
from reprospec.spec import Snapshots


@dataclass(frozen=True)
class LastRun:
    """The latest run of a bundle: what `snapshot --update` records."""

    run_id: str
    digests: dict[str, str]
    metrics: dict[str, float]
    environment_digest: str
    spec_digest: str


@dataclass(frozen=True)
class Difference:
    """One output whose digest is not the recorded one."""

    output: str
    expected: str
    actual: str


def compare(record: Snapshots, digests: dict[str, str]) -> list[Difference]:
    """Return every snapshot the current digests do not match."""
    return [
        Difference(path, expected, digests.get(path, "(not written)"))
        for path, expected in sorted(record.outputs.items())
        if digests.get(path) != expected
    ]


def table(differences: list[Difference]) -> str:
    """Return the mismatches as an aligned text table."""
    rows = [("output", "expected", "actual")]
    rows += [(d.output, d.expected, d.actual) for d in differences]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{r[0]:<{width}}  {r[1]:<71}  {r[2]}" for r in rows)


def snapshot_block(key: str, last: LastRun, outputs: list[str]) -> str:
    """Return a snapshots section (`snapshots` or `ci_snapshots`) as YAML text."""
    lines = [
        f"{key}:  # written by `reprospec snapshot --update`; never edit by hand",
        f"  from_run: {yaml_scalar(last.run_id)}",
        f"  environment_digest: {yaml_scalar(last.environment_digest)}",
        "  outputs:",
    ]
    lines += [
        f"    {yaml_scalar(path)}: {yaml_scalar(last.digests[path])}"
        for path in sorted(outputs)
    ]
    lines.append("  metrics:" if last.metrics else "  metrics: {}")
    lines += [f"    {yaml_scalar(k)}: {v!r}" for k, v in sorted(last.metrics.items())]
    return "\n".join(lines) + "\n"


def replace_block(text: str, key: str, block: str) -> str:
    """Return the spec text with its top-level section `key` replaced."""
    lines = text.splitlines(keepends=True)
    top = re.compile(rf"^{re.escape(key)}\s*:")
    start = next((i for i, line in enumerate(lines) if top.match(line)), None)
    if start is None:
        joiner = "" if not text or text.endswith("\n") else "\n"
        return text + joiner + block
    end = start + 1
    while end < len(lines) and (
        lines[end][:1] in (" ", "\t") or not lines[end].strip()
    ):
        end += 1
    return "".join(lines[:start]) + block + "".join(lines[end:])


def write_text_atomic(path: Path, text: str) -> None:
    """Replace path's content in one rename."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as handle:
        handle.write(text)
    Path(handle.name).replace(path)


def save_last_run(path: Path, last: LastRun) -> None:
    """Remember the latest run for `snapshot --update`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(asdict(last), indent=2, sort_keys=True))


def load_last_run(path: Path) -> LastRun | None:
    """Return the latest run of a bundle, if one was recorded."""
    try:
        return LastRun(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
