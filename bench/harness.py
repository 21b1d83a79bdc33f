"""Time commands, keep their exact command lines, and make throwaway project clones."""

from __future__ import annotations

import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work"
BIN = Path(sys.executable).parent
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


@dataclass
class Figure:
    """One measured quantity: every sample, how it was made, and its target."""

    key: str
    title: str
    unit: str
    samples: list[float]
    command: str
    target: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            median=self.median,
            min=min(self.samples),
            max=max(self.samples),
            runs=len(self.samples),
        )
        return data


def env(**extra: str) -> dict[str, str]:
    """Return this process's environment with the venv first on PATH."""
    base = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return {**base, **extra}


def shell(command: str, cwd: Path, environ: dict[str, str] | None = None) -> float:
    """Run command through bash in cwd; return its wall time; raise if it fails."""
    start = time.perf_counter()
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=environ or env(),
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"`{command}` in {cwd} exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return elapsed


def repeat(
    runs: int,
    measure: Callable[[], float],
    prepare: Callable[[], None] | None = None,
) -> list[float]:
    """Return runs samples of measure, calling prepare (untimed) before each."""
    samples = []
    for _ in range(runs):
        if prepare is not None:
            prepare()
        samples.append(measure())
    return samples


def interleave(
    runs: int,
    sides: Sequence[tuple[Callable[[], None] | None, Callable[[], float]]],
) -> list[list[float]]:
    """Measure several commands back to back, alternating, runs times each."""
    samples: list[list[float]] = [[] for _ in sides]
    for _ in range(runs):
        for index, (prepare, measure) in enumerate(sides):
            if prepare is not None:
                prepare()
            samples[index].append(measure())
    return samples


def ratio_samples(numerator: list[float], denominator: list[float]) -> list[float]:
    """Return the ratio of each pair measured back to back."""
    return [a / b for a, b in zip(numerator, denominator, strict=True)]


def clone_project(name: str) -> Path:
    """Return a fresh `git clone` of this repository under bench/.work/NAME.

    Uncommitted work in the checkout is laid over the clone and committed there,
    so the clone is what the working tree holds, with a clean git status (the
    run guards refuse a dirty tree). On a clean checkout this adds nothing.
    """
    target = WORK / name
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _git(REPO, "clone", "--quiet", "--no-hardlinks", str(REPO), str(target))
    listed = _git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for rel in filter(None, listed.split("\0")):
        source = REPO / rel
        if source.is_file() and not (rel.startswith("bench/") and "/.work/" in rel):
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
        elif not source.exists() and (target / rel).exists():
            (target / rel).unlink()
    _git(target, "add", "-A")
    if _git(target, "status", "--porcelain"):
        _git(target, "commit", "--quiet", "-m", "bench: the checkout's working tree")
    return target


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_IDENTITY},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def quote(args: Sequence[str]) -> str:
    """Return args as one shell line."""
    return shlex.join(args)


def load_average() -> list[float]:
    """Return the 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]
