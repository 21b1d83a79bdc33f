"""Check metrics against the bounds the spec sets for them."""

from __future__ import annotations

from reprospec.spec import Spec


def failures(spec: Spec, metrics: dict[str, float]) -> list[str]:
    """Return one line for each gate the metrics do not pass."""
    problems = []
    for name, gate in sorted(spec.gates.items()):
        value = metrics.get(name)
        if value is None:
            problems.append(f"{name}: no such metric; the run wrote {sorted(metrics)}")
        elif gate.min is not None and value < gate.min:
            problems.append(f"{name}: {value:g} is below the minimum {gate.min:g}")
        elif gate.max is not None and value > gate.max:
            problems.append(f"{name}: {value:g} is above the maximum {gate.max:g}")
    return problems
