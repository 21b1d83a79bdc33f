"""Emit dvc.yaml, params.yaml and the .gitignore for the stage outputs."""

from __future__ import annotations

from typing import Any

from reprospec import quoting
from reprospec.emitters.base import BuildInputs, Files


def emit(inputs: BuildInputs) -> Files:
    """Return the DVC pipeline, its parameters and the ignore list of its outputs."""
    spec = inputs.spec
    stages: dict[str, Any] = {}
    for name, stage in spec.stages.ordered():
        body: dict[str, Any] = {
            "cmd": f"python entrypoint.py {name}",
            "deps": ["entrypoint.py", *_code(inputs, name), *stage.deps],
        }
        if stage.params:
            body["params"] = list(stage.params)
        if stage.outs:
            body["outs"] = list(stage.outs)
        if stage.metrics:
            body["metrics"] = [{path: {"cache": False}} for path in stage.metrics]
        if stage.plots:
            body["plots"] = [{path: {"cache": False}} for path in stage.plots]
        stages[name] = body
    # Stage outputs live in DVC's cache; plots are redrawn by every run and kept
    # in its MLflow record, so neither belongs in git.
    outs = sorted(
        {f"/{out}" for _, st in spec.stages.ordered() for out in (*st.outs, *st.plots)}
    )
    return {
        "dvc.yaml": inputs.header() + quoting.dump_yaml({"stages": stages}),
        "params.yaml": inputs.header() + quoting.dump_yaml(spec.stage_params()),
        ".gitignore": inputs.header() + "\n".join(outs) + "\n",
    }


def _code(inputs: BuildInputs, stage: str) -> list[str]:
    path = inputs.code.get(stage)
    return [path] if path else []
