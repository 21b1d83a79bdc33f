"""`reprospec diff RUN_A RUN_B`: explain why two runs differ."""

from __future__ import annotations

import argparse

from reprospec import rundiff, runs


def run(args: argparse.Namespace) -> int:
    """Print the layer-by-layer difference of two recorded runs."""
    first = runs.fetch(args.run_a, args.tracking_uri)
    second = runs.fetch(args.run_b, args.tracking_uri)
    print(rundiff.report(first, second))
    return 0
