"""`reprospec build`: compile a spec into its bundle, or check the bundle is in sync."""

from __future__ import annotations

import argparse
import logging

from reprospec import bundle, compose
from reprospec.builder import compile_spec, ensure_built
from reprospec.errors import BundleOutOfDate
from reprospec.locking import exclusive

log = logging.getLogger("reprospec")


def run(args: argparse.Namespace) -> int:
    """Build the bundle, or with --check report every file that would change."""
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
    with exclusive(loaded, "build"):
        compiled, changed = ensure_built(loaded)
    where = compiled.path.relative_to(loaded.root)
    if changed:
        print(f"{where}: wrote {len(changed)} changed file(s)")
        for path in changed:
            log.debug("  %s/%s", where, path)
    else:
        print(f"{where}: up to date")
    return 0
