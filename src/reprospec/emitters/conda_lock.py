"""Emit conda-lock.yml, the solved conda packages, when the spec asks for one."""

from __future__ import annotations

from reprospec.emitters.base import BuildInputs, Files


def emit(inputs: BuildInputs) -> Files:
    """Return the conda lock solved for the spec's conda platforms, if any."""
    return {"conda-lock.yml": inputs.conda_lock} if inputs.conda_lock else {}
