"""Measure what reprospec costs beside the tools it wraps; write results.md and .json.

    python bench/run.py [--runs N] [--only SUITE ...] [--quick]

Every figure is the median of N runs (default 5) with its spread and the exact
command that produced it; a ratio compares two commands run back to back.
Scratch clones go to bench/.work/ (git-ignored). Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import REPO, load_average
from report import markdown
from suites import SUITES, Config

TOOLS = ("reprospec", "uv", "pip-tools", "mlflow", "dvc", "hydra-core", "numpy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", choices=sorted(SUITES))
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke test"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench")
    args = parser.parse_args()
    if args.runs < 5 and not args.quick:
        parser.error("at least 5 runs per figure (or --quick for a smoke test)")
    cfg = Config(runs=args.runs, quick=args.quick)
    meta = _meta(cfg)
    figures = []
    for name in args.only or list(SUITES):
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        figures += [f.as_dict() for f in SUITES[name](cfg)]
        print(f"bench: {name} took {time.monotonic() - started:.0f} s", file=sys.stderr)
    meta["load_average_end"] = load_average()
    results = {"meta": meta, "figures": figures}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(markdown(results))
    print(f"bench: wrote {args.out / 'results.md'}", file=sys.stderr)
    return 0


def _meta(cfg: Config) -> dict[str, object]:
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    )
    versions = {}
    for name in TOOLS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": commit,
        "uncommitted_changes": dirty,
        "runs": cfg.runs,
        "quick": cfg.quick,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {_cpus()} CPUs",
        "load_average_start": load_average(),
        "versions": versions,
    }


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    sys.exit(main())
