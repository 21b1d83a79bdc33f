"""Emit environment.yml: conda's Python and pip, then the hashed pip lock."""

from __future__ import annotations

from reprospec.emitters.base import BuildInputs, Files, render

PIP_VERSION = "24.3.1"


def emit(inputs: BuildInputs) -> Files:
    """Return environment.yml for the spec."""
    text = render(
        "environment.yml.j2",
        header=inputs.header(),
        name=inputs.spec.name,
        python=inputs.spec.environment.python,
        pip=PIP_VERSION,
    )
    return {"environment.yml": text}
