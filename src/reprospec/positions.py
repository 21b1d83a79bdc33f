"""Find where a dotted key was set: an override, the spec file, or a config group."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


def locate(
    spec_path: Path, root: Path, overrides: Sequence[str], key: Sequence[str]
) -> str | None:
    """Return 'FILE:LINE:COLUMN' or "override 'X'" for key, or None if unknown."""
    dotted = ".".join(key)
    for override in overrides:
        name = re.split(r"=", override.lstrip("+~"), maxsplit=1)[0]
        if name and (dotted == name or dotted.startswith(name + ".")):
            return f"override {override!r}"
    found = _find(spec_path, key)
    if found:
        return f"{_show(spec_path, root)}:{found}"
    group_file = _group_file(spec_path, root, overrides, key[0]) if key else None
    if group_file is not None:
        found = _find(group_file, key[1:])
        if found:
            return f"{_show(group_file, root)}:{found}"
    return None


def _show(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _find(path: Path, key: Sequence[str]) -> str | None:
    try:
        node: Any = yaml.compose(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    mark = None
    for part in key:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if k.value == part]
            if not match:
                break
            mark, node = match[0][0].start_mark, match[0][1]
        elif isinstance(node, yaml.SequenceNode) and part.isdigit():
            if int(part) >= len(node.value):
                break
            node = node.value[int(part)]
            mark = node.start_mark
        else:
            break
    else:
        return f"{mark.line + 1}:{mark.column + 1}" if mark else None
    return None


def _group_file(
    spec_path: Path, root: Path, overrides: Sequence[str], group: str
) -> Path | None:
    option = None
    for override in overrides:
        if override.startswith(f"{group}="):
            option = override.split("=", 1)[1]
    if option is None:
        try:
            data = yaml.safe_load(spec_path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            return None
        for entry in data.get("defaults", []) if isinstance(data, dict) else []:
            if isinstance(entry, dict) and group in entry:
                option = str(entry[group])
    path = root / "conf" / group / f"{option}.yaml"
    return path if option and path.is_file() else None
