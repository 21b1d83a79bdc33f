"""Serialise builds and runs of one spec, and turn SIGTERM into an interrupt."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from filelock import FileLock, Timeout

from reprospec.compose import LoadedSpec

log = logging.getLogger("reprospec")


class Terminated(KeyboardInterrupt):
    """The process was asked to stop with SIGTERM."""


@contextmanager
def exclusive(loaded: LoadedSpec, doing: str) -> Iterator[None]:
    """Hold the spec's lock; say so when another build or run holds it first."""
    path = loaded.root / ".reprospec" / "locks" / f"{loaded.spec.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.warning(
            "waiting: another build or run of %s holds %s; this %s starts when it "
            "finishes",
            loaded.spec.name,
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
