"""`reprospec init`: scaffold a project with a starter spec that builds and runs."""

from __future__ import annotations

import argparse
import importlib.util
import keyword
import platform
import re
import sys
from pathlib import Path

from reprospec import scaffold
from reprospec.errors import UsageError

SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def _taken(package: str) -> bool:
    if package in sys.stdlib_module_names:
        return True
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def run(args: argparse.Namespace) -> int:
    """Write the project's files into DIRECTORY and say what comes next."""
    root = Path(args.directory)
    name = args.name or root.resolve().name.lower()
    for what, value in (("--name", name), ("--team", args.team)):
        if not SLUG.match(value):
            raise UsageError(
                f"{what} {value!r}: use lower-case letters, digits, '.', '_' or '-'"
            )
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is a file; give a folder for the new project")
    package = scaffold.package_name(name)
    if keyword.iskeyword(package) or _taken(package):
        raise UsageError(
            f"--name {name!r} gives the package {package!r}, which "
            + (
                "is a Python keyword"
                if keyword.iskeyword(package)
                else "would hide an installed module of that name"
            )
            + "; choose another name"
        )
    written = scaffold.write(root, name, args.team, platform.python_version())
    print(f"{root}: wrote {len(written)} file(s)")
    print(
        f"next: cd {root} && git init && git add -A && git commit -m start "
        f"&& reprospec run specs/{name}.yaml"
    )
    return 0
