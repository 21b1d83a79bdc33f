"""Compare output digests with a spec's snapshots, and record new ones."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reprospec.quoting import yaml_scalar
from reprospec.spec import Spec

_TOP_KEY = re.compile(r"^snapshots\s*:")


@dataclass(frozen=True)
class Difference:
    """One output whose digest is not the recorded one."""

    output: str
    expected: str
    actual: str


def compare(spec: Spec, digests: dict[str, str]) -> list[Difference]:
    """Return every snapshot the current digests do not match."""
    return [
        Difference(path, expected, digests.get(path, "(not written)"))
        for path, expected in sorted(spec.snapshots.outputs.items())
        if digests.get(path) != expected
    ]


def table(differences: list[Difference]) -> str:
    """Return the mismatches as an aligned text table."""
    rows = [("output", "expected", "actual")]
    rows += [(d.output, d.expected, d.actual) for d in differences]
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{r[0]:<{width}}  {r[1]:<71}  {r[2]}" for r in rows)


def snapshot_block(run_id: str, digests: dict[str, str]) -> str:
    """Return the spec's snapshots section as YAML text."""
    lines = [
        "snapshots:  # written by `reprospec snapshot --update`; never edit by hand",
        f"  from_run: {yaml_scalar(run_id)}",
        "  outputs:",
    ]
    lines += [
        f"    {yaml_scalar(p)}: {yaml_scalar(d)}" for p, d in sorted(digests.items())
    ]
    return "\n".join(lines) + "\n"


def replace_block(text: str, block: str) -> str:
    """Return the spec text with its top-level snapshots section replaced."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _TOP_KEY.match(line)), None)
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


def save_last_run(path: Path, run_id: str, digests: dict[str, str]) -> None:
    """Remember the latest run's digests for `snapshot --update`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(
        path, json.dumps({"run_id": run_id, "digests": digests}, indent=2)
    )


def load_last_run(path: Path) -> tuple[str, dict[str, str]] | None:
    """Return the run ID and digests of the latest run, if one was recorded."""
    try:
        data = json.loads(path.read_text())
        return str(data["run_id"]), dict(data["digests"])
    except (OSError, ValueError, KeyError):
        return None
