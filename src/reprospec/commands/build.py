"""`reprospec build`: compile a spec into its bundle, or check the bundle is in sync."""

from __future__ import annotations

import argparse
import logging

from reprospec import build_record
from reprospec.errors import BundleOutOfDate

log = logging.getLogger("reprospec")


def run(args: argparse.Namespace) -> int:
    """Build the bundle, or with --check report every file that would change."""
    if not args.check:
        # Checked before Hydra is imported: a no-op build costs a few digests.
        fresh = build_record.up_to_date(args.spec, args.overrides)
        if fresh is not None:
            print(f"{fresh}: up to date")
            return 0
    observed = build_record.observe(args.spec, args.overrides)
    from reprospec import bundle, compose
    from reprospec.builder import compile_spec, ensure_built
    from reprospec.locking import exclusive

    loaded = compose.load(args.spec, args.overrides)
    if args.check:
        compiled = compile_spec(loaded)
        changed = bundle.changed_files(compiled.path, compiled.blobs)
        where = compiled.path.relative_to(loaded.root)
        if changed:
            names = "\n".join(f"  {where}/{path}" for path in changed)
            raise BundleOutOfDate(
                f"{where} is out of date with {loaded.relpath}; these files would "
                f"change:\n{names}\n  run: reprospec build {loaded.relpath}"
            )
        print(f"{where}: in sync with {loaded.relpath}")
        return 0
    if observed is not None:
        observed = observed.with_files(build_record.spec_files(loaded))
    with exclusive(loaded, "build"):
        compiled, changed = ensure_built(loaded)
        if observed is not None:
            manifest = compiled.blobs[build_record.MANIFEST]
            build_record.save(observed, compiled.path, manifest)
    where = compiled.path.relative_to(loaded.root)
    if changed:
        print(f"{where}: wrote {len(changed)} changed file(s)")
        for path in changed:
            log.debug("  %s/%s", where, path)
    else:
        print(f"{where}: up to date")
    return 0
