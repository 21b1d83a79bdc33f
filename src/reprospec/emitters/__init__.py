"""Register the emitters: one module per artifact, each a pure function."""

from __future__ import annotations

from reprospec.emitters import (
    conda,
    conda_lock,
    docker,
    dvc,
    entrypoint,
    mlflow_project,
    precommit,
    requirements,
    spec_copy,
    workflow,
)
from reprospec.emitters.base import BuildInputs, Emitter, Files

EMITTERS: tuple[Emitter, ...] = (
    requirements.emit,
    conda.emit,
    conda_lock.emit,
    docker.emit,
    dvc.emit,
    entrypoint.emit,
    mlflow_project.emit,
    precommit.emit,
    workflow.emit,
    spec_copy.emit,
)


def emit_all(inputs: BuildInputs) -> Files:
    """Return every artifact of the bundle, refusing two emitters on one path."""
    files: Files = {}
    for emitter in EMITTERS:
        for path, text in emitter(inputs).items():
            if path in files:
                raise RuntimeError(f"two emitters write {path}")
            files[path] = text
    return files


__all__ = ["BuildInputs", "Files", "emit_all"]
