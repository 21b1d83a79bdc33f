"""Run the reprospec command line, counting every call into a lock resolver.

    python bench/count_calls.py COUNT_FILE build SPEC [OVERRIDE...]

Appends one line to COUNT_FILE: the number of pip resolutions (uv or
pip-tools) and conda solves the command made. Nothing else changes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from reprospec import conda_lock, resolvers
from reprospec.cli import main

calls: list[str] = []


def _counted(name: str, real: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return real(*args, **kwargs)

    return call


resolvers.run = _counted("pip", resolvers.run)
conda_lock._solve = _counted("conda", conda_lock._solve)
conda_lock._solve_with_conda_lock = _counted("conda", conda_lock._solve_with_conda_lock)

if __name__ == "__main__":
    count_file = Path(sys.argv[1])
    try:
        code = main(sys.argv[2:])
    finally:
        with count_file.open("a") as handle:
            handle.write(f"{len(calls)}\n")
    sys.exit(code)
