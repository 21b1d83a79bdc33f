"""Lay out a new reprospec project whose starter spec builds and runs."""

from __future__ import annotations

import re
from pathlib import Path

from reprospec.emitters.base import render
from reprospec.emitters.precommit import config
from reprospec.errors import UsageError

CONF = {
    "conf/data/synthetic.yaml": (
        "# Two Gaussian classes; a quarter of the samples held out for testing.\n"
        "samples: 600\nfeatures: 4\nseparation: 1.5\ntest_size: 0.25\n"
    ),
    "conf/model/ridge.yaml": "# Ridge regression: the L2 penalty.\nl2: 1.0\n",
}
# Stage modules of the source layout, by file, from their templates.
SOURCES = ("data", "features", "models", "training", "evaluation")
DVC_GITIGNORE = "/config.local\n/tmp\n/cache\n"


def package_name(name: str) -> str:
    """Return the Python package name for a project slug."""
    package = re.sub(r"[^a-z0-9_]", "_", name)
    return package if package[0].isalpha() else f"x_{package}"


def files(name: str, team: str, python: str) -> dict[str, str]:
    """Return every file of a new project, by path relative to its root."""
    package = package_name(name)
    spec = f"specs/{name}.yaml"
    context = {"name": name, "team": team, "package": package, "python": python}
    found = {
        spec: render("init_spec.yaml.j2", **context),
        **CONF,
        f"{package}/__init__.py": f'"""The {name} experiment\'s code."""\n',
        ".gitignore": render("init_gitignore.j2"),
        ".dvcignore": render("init_dvcignore.j2"),
        ".dvc/config": "[core]\n    analytics = false\n",
        ".dvc/.gitignore": DVC_GITIGNORE,
    }
    for module in SOURCES:
        found[f"{package}/{module}.py"] = render(f"init_{module}.py.j2", **context)
    paths = sorted([spec, "conf", package, f"build/{name}"])
    found[".pre-commit-config.yaml"] = config([spec], paths)
    return found


def write(root: Path, name: str, team: str, python: str) -> list[str]:
    """Write a new project into root, refusing to replace any existing file."""
    planned = files(name, team, python)
    taken = sorted(path for path in planned if (root / path).exists())
    if taken:
        raise UsageError(
            f"{root} already has {', '.join(taken)}; choose an empty folder or "
            "move those files away"
        )
    for path, text in sorted(planned.items()):
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return sorted(planned)
