"""`reprospec init`: scaffold a project with a starter spec that builds and runs."""

from __future__ import annotations

import argparse
import platform
import re
from pathlib import Path

from reprospec import scaffold
from reprospec.errors import UsageError

SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def run(args: argparse.Namespace) -> int:
    """Write the project's files into DIRECTORY and say what comes next."""
    root = Path(args.directory)
    name = args.name or root.resolve().name.lower()
    for what, value in (("--name", name), ("--team", args.team)):
        if not SLUG.match(value):
            raise UsageError(
                f"{what} {value!r}: use lower-case letters, digits, '.', '_' or '-'"
            )
    written = scaffold.write(root, name, args.team, platform.python_version())
    print(f"{root}: wrote {len(written)} file(s)")
    print(f"next: cd {root} && git init && reprospec run specs/{name}.yaml")
    return 0
