"""Emit the GitHub Actions workflow that re-runs the experiment in CI."""

from __future__ import annotations

from reprospec import __version__, quoting
from reprospec.emitters.base import BuildInputs, Files, render

WORKFLOW = ".github/workflows/reprospec.yml"


def emit(inputs: BuildInputs) -> Files:
    """Return the workflow: pinned actions, read-only token, hashed install, scan."""
    args = " ".join(
        quoting.shell(w) for w in (inputs.loaded.relpath, *inputs.loaded.overrides)
    )
    text = render(
        "workflow.yml.j2",
        header=inputs.header(),
        name=inputs.spec.name,
        python=inputs.spec.environment.python,
        lock_path=f"{inputs.bundle_relpath}/requirements-lock.txt",
        version=__version__,
        build_args=args,
        dockerfile=quoting.shell(f"{inputs.bundle_relpath}/Dockerfile"),
        image_tag=f"reprospec/{inputs.spec.name}:ci",
    )
    return {WORKFLOW: text}
