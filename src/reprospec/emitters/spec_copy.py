"""Emit spec.yaml: the resolved spec the bundle was compiled from."""

from __future__ import annotations

from reprospec import quoting
from reprospec.emitters.base import BuildInputs, Files


def emit(inputs: BuildInputs) -> Files:
    """Return the composed, validated spec with every default filled in."""
    data = inputs.spec.resolved()
    data.pop("snapshots", None)
    data.pop("gates", None)
    return {"spec.yaml": inputs.header() + quoting.dump_yaml(data)}
