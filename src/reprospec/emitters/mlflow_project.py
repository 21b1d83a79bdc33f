"""Emit MLproject and conda.yaml, so `mlflow run` can run the bundle."""

from __future__ import annotations

from typing import Any

from reprospec import quoting
from reprospec.emitters.base import BuildInputs, Files
from reprospec.emitters.conda import environment_text


def emit(inputs: BuildInputs) -> Files:
    """Return MLflow's project file, one entry point per stage plus 'main'."""
    stages = [name for name, _ in inputs.spec.stages.ordered()]
    points: dict[str, Any] = {
        "main": {"command": " && ".join(_stage_command(s) for s in stages)}
    }
    points.update({name: {"command": _stage_command(name)} for name in stages})
    project = {
        "name": inputs.spec.name,
        "conda_env": "conda.yaml",
        "entry_points": points,
    }
    return {
        "MLproject": inputs.header() + quoting.dump_yaml(project),
        "conda.yaml": environment_text(inputs),
    }


def _stage_command(stage: str) -> str:
    # Stage names are fixed identifiers (ingest, train, ...), never spec text.
    return f"python entrypoint.py {stage}"
