"""Emit environment.yml: conda's Python and pip, then the hashed pip lock."""

from __future__ import annotations

from reprospec.conda_lock import PIP_VERSION
from reprospec.emitters.base import BuildInputs, Files, render


def emit(inputs: BuildInputs) -> Files:
    """Return environment.yml for the spec."""
    return {"environment.yml": environment_text(inputs)}


def environment_text(inputs: BuildInputs) -> str:
    """Return a conda environment file: Python, pip, then the hashed pip lock."""
    return render(
        "environment.yml.j2",
        header=inputs.header(),
        name=inputs.spec.name,
        python=inputs.spec.environment.python,
        pip=PIP_VERSION,
        channels=inputs.spec.environment.channels,
    )
