"""`reprospec lock`: re-resolve a spec's lock, rebuild the bundle, show what moved."""

from __future__ import annotations

import argparse

from reprospec import compose, lock
from reprospec.builder import ensure_built, lock_cache, previous_locks
from reprospec.errors import UsageError
from reprospec.locking import exclusive
from reprospec.resolvers import Upgrade


def run(args: argparse.Namespace) -> int:
    """Resolve again, keeping pins unless told to move them; print the changes."""
    if args.upgrade and args.upgrade_package:
        raise UsageError(
            "choose one: --upgrade moves every pin, --upgrade-package only the "
            "named ones"
        )
    upgrade = Upgrade(bool(args.upgrade), tuple(args.upgrade_package or ()))
    loaded = compose.load(args.spec, args.overrides)
    with exclusive(loaded, "lock"):
        old = lock.first_existing(previous_locks(loaded))
        resolved = lock.relock(
            loaded.spec,
            loaded.relpath,
            old,
            lock_cache(loaded),
            args.resolver,
            upgrade,
            loaded.root,
        )
        compiled, changed = ensure_built(loaded, resolved)
    where = compiled.path.relative_to(loaded.root)
    moved = lock.changed_pins(old or "", resolved.text)
    if moved:
        print(lock.pin_table(moved))
    else:
        print(f"{where}/requirements-lock.txt: no pin changed")
    print(f"{where}: wrote {len(changed)} changed file(s)")
    return 0
