"""Explain how two recorded runs differ, layer by layer, and name the likely cause."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reprospec.lock import pins
from reprospec.runs import RecordedRun

# Layers in causal order: an earlier layer's change explains a later one's.
CAUSES = (
    ("data", "the input data changed (data_version)"),
    ("lock", "the locked environment changed"),
    ("code", "the code changed (git commit or uncommitted diff)"),
    ("params", "the parameters changed"),
    ("determinism", "the seed, determinism or thread settings changed"),
    ("platform", "the platform changed (CPU, OS, libraries or GPU)"),
)


@dataclass(frozen=True)
class Layer:
    """One layer of the comparison and the differences found in it."""

    name: str
    title: str
    rows: list[tuple[str, str, str]]


def _mapping_diff(
    a: Mapping[str, str], b: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    return [
        (key, a.get(key, "(absent)"), b.get(key, "(absent)"))
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


def _prefixed(tags: Mapping[str, str], prefixes: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k.startswith(prefixes)}


def layers(a: RecordedRun, b: RecordedRun) -> list[Layer]:
    """Return every layer of the comparison of a with b."""
    lock_a = pins(a.artifact("requirements-lock.txt") or "")
    lock_b = pins(b.artifact("requirements-lock.txt") or "")
    code_a = {
        "git_commit": a.tags.get("git_commit", ""),
        "git_dirty": a.tags.get("git_dirty", ""),
    }
    code_b = {
        "git_commit": b.tags.get("git_commit", ""),
        "git_dirty": b.tags.get("git_dirty", ""),
    }
    if a.tags.get("git_dirty") == "true" or b.tags.get("git_dirty") == "true":
        code_a["diff"] = _short_digest(a.artifact("git-diff.patch") or "")
        code_b["diff"] = _short_digest(b.artifact("git-diff.patch") or "")
    settings = ("seed", "threads", "determinism.")
    digests_a = a.artifact_json("digests.json") or {}
    digests_b = b.artifact_json("digests.json") or {}
    metrics_a = {k: f"{v:g}" for k, v in a.metrics.items()}
    metrics_b = {k: f"{v:g}" for k, v in b.metrics.items()}
    return [
        Layer("params", "Resolved parameters", _mapping_diff(a.params, b.params)),
        Layer("lock", "Lock pins", _mapping_diff(lock_a, lock_b)),
        Layer(
            "data",
            "Data version",
            _mapping_diff(
                {"data_version": a.tags.get("data_version", "")},
                {"data_version": b.tags.get("data_version", "")},
            ),
        ),
        Layer("code", "Code", _mapping_diff(code_a, code_b)),
        Layer(
            "determinism",
            "Seed, determinism and threads",
            _mapping_diff(_prefixed(a.tags, settings), _prefixed(b.tags, settings)),
        ),
        Layer(
            "platform",
            "Platform",
            _mapping_diff(
                _prefixed(a.tags, ("platform.",)), _prefixed(b.tags, ("platform.",))
            ),
        ),
        Layer("outputs", "Output digests", _mapping_diff(digests_a, digests_b)),
        Layer("metrics", "Metrics", _mapping_diff(metrics_a, metrics_b)),
    ]


def _short_digest(text: str) -> str:
    import hashlib

    return (
        "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16] if text else "none"
    )


def likely_cause(found: list[Layer]) -> str:
    """Return the most likely cause of any output or metric change."""
    by_name = {layer.name: layer for layer in found}
    changed_results = by_name["outputs"].rows or by_name["metrics"].rows
    for name, text in CAUSES:
        if by_name[name].rows:
            keys = ", ".join(row[0] for row in by_name[name].rows[:5])
            verb = "Most likely cause" if changed_results else "Inputs differ"
            return f"{verb}: {text} ({keys})."
    if changed_results:
        return (
            "Most likely cause: nondeterminism. The recorded inputs are identical but "
            "the outputs differ; find the stage with `reprospec run SPEC --repeat 2`."
        )
    return "The runs are identical in every recorded layer."


def report(a: RecordedRun, b: RecordedRun) -> str:
    """Return the layer-by-layer comparison of two runs as text."""
    found = layers(a, b)
    lines = [f"comparing run {a.run_id} (A) with run {b.run_id} (B)", ""]
    for layer in found:
        if not layer.rows:
            lines.append(f"{layer.title}: same")
            continue
        lines.append(f"{layer.title}: {len(layer.rows)} difference(s)")
        width = max(len(row[0]) for row in layer.rows)
        lines += [f"  {key:<{width}}  A: {va}  B: {vb}" for key, va, vb in layer.rows]
    lines += ["", likely_cause(found)]
    return "\n".join(lines)
