"""Emit spec.yaml: the resolved spec the bundle was compiled from."""

from __future__ import annotations

from reprospec import quoting
from reprospec.emitters.base import BuildInputs, Files
from reprospec.spec import VERDICT_KEYS


def emit(inputs: BuildInputs) -> Files:
    """Return the composed, validated spec with every default filled in."""
    data = inputs.spec.resolved()
    for key in VERDICT_KEYS:
        data.pop(key, None)
    return {"spec.yaml": inputs.header() + quoting.dump_yaml(data)}
