"""Locate the project a spec belongs to; cheap enough to run before any import."""

from __future__ import annotations

from pathlib import Path


def find_root(spec_path: Path) -> Path:
    """Return the project root: the nearest folder above the spec with conf/."""
    for parent in spec_path.parents:
        if (parent / "conf").is_dir() or (parent / ".git").exists():
            return parent
    return spec_path.parent
