"""Serialise builds and runs of one bundle, and turn SIGTERM into an interrupt."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from filelock import FileLock, Timeout

from reprospec.builder import bundle_dir
from reprospec.compose import LoadedSpec

log = logging.getLogger("reprospec")


class Terminated(KeyboardInterrupt):
    """The process was asked to stop with SIGTERM."""


@contextmanager
def exclusive(loaded: LoadedSpec, doing: str) -> Iterator[None]:
    """Hold the bundle's lock; say so when another build or run holds it first.

    The lock is per bundle folder, so runs of one spec with different overrides
    (the jobs of a sweep) go on in parallel, each in a bundle of its own.
    """
    path = loaded.root / ".reprospec" / "locks" / f"{bundle_dir(loaded).name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.warning(
            "waiting: another build or run of %s holds %s; this %s starts when it "
            "finishes",
            bundle_dir(loaded).name,
            path.relative_to(loaded.root),
            doing,
        )
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def raise_on_sigterm() -> None:
    """Make SIGTERM raise Terminated, so cleanup code runs as for Ctrl-C."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)
