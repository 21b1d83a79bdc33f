"""`reprospec push`: send the bundle's recorded data to the spec's DVC remote."""

from __future__ import annotations

import argparse

from reprospec import compose, remote
from reprospec.builder import bundle_dir
from reprospec.locking import exclusive


def run(args: argparse.Namespace) -> int:
    """Push every output dvc.lock records, then check the remote has them all."""
    loaded = compose.load(args.spec, args.overrides)
    with exclusive(loaded, "push"):
        bundle = bundle_dir(loaded)
        remote.transfer(loaded, bundle, "push")
        remote.check(loaded, bundle)
    where = remote.remote_of(loaded)
    print(f"pushed {bundle.relative_to(loaded.root)} to {where.name} ({where.url})")
    return 0
