"""Emit a labelled Dockerfile on a pinned micromamba base, and its .dockerignore."""

from __future__ import annotations

from reprospec import __version__
from reprospec.conda_lock import PIP_VERSION
from reprospec.emitters.base import BuildInputs, Files, render
from reprospec.environment import environment_digest, launch_env


def emit(inputs: BuildInputs) -> Files:
    """Return the Dockerfile and .dockerignore for the spec."""
    spec = inputs.spec
    bundle = inputs.bundle_relpath
    env_files = [f"{bundle}/requirements-lock.txt"]
    if inputs.conda_lock:
        env_files.insert(0, f"{bundle}/conda-lock.yml")
    dockerfile = render(
        "Dockerfile.j2",
        header=inputs.header(),
        bundle=bundle,
        python=spec.environment.python,
        cuda=spec.environment.cuda or "",
        image=spec.environment.image(),
        name=spec.name,
        version=__version__,
        spec_path=inputs.loaded.relpath,
        spec_digest=spec.digest(),
        env_digest=environment_digest(inputs.lock.text),
        launch_env=sorted(launch_env(spec).items()),
        env_files=env_files,
        conda_lock=bool(inputs.conda_lock),
        pip=PIP_VERSION,
        channels=spec.environment.channels,
        stages=[name for name, _ in spec.stages.ordered()],
    )
    ignore = render("dockerignore.j2", header=inputs.header())
    return {"Dockerfile": dockerfile, ".dockerignore": ignore}
