"""Emit a labelled Dockerfile on a pinned base image, and its .dockerignore."""

from __future__ import annotations

from reprospec import __version__
from reprospec.emitters.base import BuildInputs, Files, render
from reprospec.environment import THREAD_VARIABLES, environment_digest


def emit(inputs: BuildInputs) -> Files:
    """Return the Dockerfile and .dockerignore for the spec."""
    spec = inputs.spec
    dockerfile = render(
        "Dockerfile.j2",
        header=inputs.header(),
        bundle=inputs.bundle_relpath,
        python=spec.environment.python,
        cuda=spec.environment.cuda or "",
        image=spec.environment.image(),
        name=spec.name,
        version=__version__,
        spec_path=inputs.loaded.relpath,
        spec_digest=spec.digest(),
        env_digest=environment_digest(inputs.lock.text),
        seed=str(spec.seed),
        threads=str(spec.determinism.threads),
        thread_vars=THREAD_VARIABLES,
        stages=[name for name, _ in spec.stages.ordered()],
    )
    ignore = render("dockerignore.j2", header=inputs.header())
    return {"Dockerfile": dockerfile, ".dockerignore": ignore}
