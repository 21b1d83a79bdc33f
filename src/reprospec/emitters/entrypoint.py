"""Emit entrypoint.py: the seeded launcher that DVC runs for each stage."""

from __future__ import annotations

import json

from reprospec.emitters.base import BuildInputs, Files, render
from reprospec.environment import launch_env


def emit(inputs: BuildInputs) -> Files:
    """Return the entry point with the stage table written as Python literals."""
    spec = inputs.spec
    table = {
        name: {
            "run": stage.run,
            "deps": list(stage.deps),
            "outs": list(stage.outs),
            "params": list(stage.params),
            "metrics": list(stage.metrics),
            "plots": list(stage.plots),
        }
        for name, stage in spec.stages.ordered()
    }
    text = render(
        "entrypoint.py.j2",
        header=inputs.header(),
        name=spec.name,
        to_root=inputs.to_root,
        seed=spec.seed,
        threads=spec.determinism.threads,
        framework=spec.environment.framework,
        strict=spec.determinism.strict,
        launch_env=_literal(launch_env(spec)),
        stages=_literal(table),
    )
    return {"entrypoint.py": text}


def _literal(value: object) -> str:
    # JSON of strings, lists and dicts is also a valid Python literal; the
    # spec's order is kept because it is the pipeline order.
    return json.dumps(value, indent=4, ensure_ascii=True)
