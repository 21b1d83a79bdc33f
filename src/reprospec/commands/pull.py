"""`reprospec pull`: fetch the bundle's recorded data from the spec's DVC remote."""

from __future__ import annotations

import argparse

from reprospec import compose, remote, snapshots
from reprospec.builder import bundle_dir
from reprospec.digest import output_digest
from reprospec.errors import SnapshotMismatch
from reprospec.locking import exclusive


def run(args: argparse.Namespace) -> int:
    """Pull every output dvc.lock records; verify it against the snapshots."""
    loaded = compose.load(args.spec, args.overrides)
    with exclusive(loaded, "pull"):
        bundle = bundle_dir(loaded)
        remote.transfer(loaded, bundle, "pull")
        remote.check(loaded, bundle)
    outs = [out for _, stage in loaded.spec.stages.ordered() for out in stage.outs]
    digests = {
        out: output_digest(bundle / out) for out in outs if (bundle / out).is_file()
    }
    where = remote.remote_of(loaded)
    print(f"pulled {bundle.relative_to(loaded.root)} from {where.name} ({where.url})")
    for path, digest in sorted(digests.items()):
        print(f"  {path}  {digest}")
    record = loaded.spec.snapshots
    differences = [d for d in snapshots.compare(record, digests) if d.output in digests]
    if differences:
        print(snapshots.table(differences))
        raise SnapshotMismatch(
            f"{len(differences)} pulled output(s) differ from the snapshots in "
            f"{loaded.relpath}; the remote holds another version of this data"
        )
    return 0
