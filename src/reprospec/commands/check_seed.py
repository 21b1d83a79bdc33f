"""`reprospec check-seed`: check statically that every stage is seeded first."""

from __future__ import annotations

import argparse

from reprospec import compose, seedcheck
from reprospec.builder import bundle_dir, stage_modules
from reprospec.errors import SeedNotSetError


def run(args: argparse.Namespace) -> int:
    """Check the entry point and every stage module of SPEC; name each problem."""
    loaded = compose.load(args.spec, args.overrides)
    entrypoint = bundle_dir(loaded) / "entrypoint.py"
    shown = entrypoint.relative_to(loaded.root).as_posix()
    if not entrypoint.is_file():
        raise SeedNotSetError(f"{shown} is missing; run: reprospec build {args.spec}")
    findings = seedcheck.check_entrypoint(entrypoint.read_text(), shown)
    modules = sorted(set(stage_modules(loaded).values()))
    findings += seedcheck.check_files(modules, loaded.root)
    if findings:
        lines = "\n".join(f"  {finding}" for finding in findings)
        raise SeedNotSetError(
            f"{loaded.relpath}: stage code works around the spec's seed:\n{lines}"
        )
    print(f"{loaded.relpath}: {len(modules)} stage module(s) and {shown} seed first")
    return 0
