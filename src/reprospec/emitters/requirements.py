"""Emit requirements.in and its hashed lock."""

from __future__ import annotations

from reprospec.emitters.base import BuildInputs, Files


def emit(inputs: BuildInputs) -> Files:
    """Return the requirements input and the lock resolved from it."""
    return {
        "requirements.in": inputs.lock.requirements_in,
        "requirements-lock.txt": inputs.lock.text,
    }
