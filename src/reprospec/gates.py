"""Check metrics against the bounds the spec sets for them."""

from __future__ import annotations

import math
from collections.abc import Mapping

from reprospec.spec import Regression, Spec


def failures(
    spec: Spec, metrics: Mapping[str, float], baseline: Mapping[str, float]
) -> list[str]:
    """Return one line for each gate the metrics do not pass."""
    problems = []
    for name, gate in sorted(spec.gates.items()):
        value = metrics.get(name)
        if value is None:
            problems.append(f"{name}: no such metric; the run wrote {sorted(metrics)}")
            continue
        if not math.isfinite(value):
            problems.append(f"{name}: {value} is not a finite number")
            continue
        if gate.min is not None and value < gate.min:
            problems.append(f"{name}: {value:g} is below the minimum {gate.min:g}")
        if gate.max is not None and value > gate.max:
            problems.append(f"{name}: {value:g} is above the maximum {gate.max:g}")
        if gate.regression is not None and name in baseline:
            problem = _regression(name, value, baseline[name], gate.regression)
            if problem:
                problems.append(problem)
    return problems


def _regression(name: str, value: float, base: float, rule: Regression) -> str | None:
    allowed = max(rule.abs_tol, rule.rel_tol * abs(base))
    worse = base - value if rule.higher_is_better else value - base
    if worse > allowed:
        return (
            f"{name}: {value:g} regressed from the baseline {base:g} by {worse:g}, "
            f"more than the allowed {allowed:g}"
        )
    return None
