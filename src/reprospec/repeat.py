"""Run a pipeline several times in fresh processes and name what differs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from reprospec.compose import LoadedSpec
from reprospec.digest import file_digest
from reprospec.errors import NondeterministicRun, UsageError
from reprospec.runner import StageRun, repro

log = logging.getLogger("reprospec")


@dataclass(frozen=True)
class Divergence:
    """One output whose digest was not the same in every run."""

    stage: str
    output: str
    digests: tuple[str, ...]  # one per run, in run order


def repeat(loaded: LoadedSpec, bundle: Path, times: int) -> StageRun:
    """Run every stage `times` times; raise NondeterministicRun if outputs differ.

    Each run is `dvc repro --force`: DVC deletes a stage's outputs and starts a
    fresh interpreter for it, so nothing carries over from one run to the next.
    Returns the last run, or the first that failed.
    """
    if times < 1:
        raise UsageError(f"--repeat takes a count of 1 or more, not {times}")
    runs: list[StageRun] = []
    seen: list[dict[str, str]] = []
    for number in range(1, times + 1):
        log.info("run %d of %d: every stage in a fresh process", number, times)
        result = repro(loaded, bundle, force=True)
        if result.returncode != 0:
            return result
        runs.append(result)
        seen.append(_with_reports(loaded, bundle, result.digests))
    found = divergences(loaded, seen)
    if found:
        print(table(found))
        raise NondeterministicRun(describe(loaded, found, times))
    log.info("%d runs wrote identical outputs", times)
    return runs[-1]


def _with_reports(
    loaded: LoadedSpec, bundle: Path, digests: dict[str, str]
) -> dict[str, str]:
    """Add the digests of metrics and plots files, which DVC does not cache."""
    reports = {
        path: file_digest(bundle / path)
        for _, stage in loaded.spec.stages.ordered()
        for path in (*stage.metrics, *stage.plots)
        if (bundle / path).is_file()
    }
    return {**digests, **reports}


def divergences(loaded: LoadedSpec, runs: list[dict[str, str]]) -> list[Divergence]:
    """Return the outputs whose digests differ between runs, in pipeline order."""
    found = []
    for name, stage in loaded.spec.stages.ordered():
        for path in (*stage.outs, *stage.metrics, *stage.plots):
            digests = tuple(run.get(path, "(not written)") for run in runs)
            if len(set(digests)) > 1:
                found.append(Divergence(name, path, digests))
    return found


def table(found: list[Divergence]) -> str:
    """Return the differing outputs with each run's digest, one line per run."""
    rows = [("stage", "output", "run", "digest")]
    for item in found:
        for number, digest in enumerate(item.digests, start=1):
            first = number == 1
            rows.append(
                (
                    item.stage if first else "",
                    item.output if first else "",
                    str(number),
                    digest,
                )
            )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[3]
        for row in rows
    )


def describe(loaded: LoadedSpec, found: list[Divergence], times: int) -> str:
    """Return the refusal: how many outputs differ and which stage differs first."""
    first = found[0].stage
    return (
        f"{len(found)} output(s) of {loaded.relpath} differ between {times} runs of "
        f"the same bundle; stage {first!r} is the first to differ "
        f"({', '.join(d.output for d in found if d.stage == first)}). Its code "
        "draws on something unseeded: the clock, os.urandom, an unseeded "
        "generator, thread timing or the order of a set. Later stages may differ "
        "only because their inputs did"
    )
