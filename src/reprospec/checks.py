"""Refuse at build what would only fail later: clashing paths, missing callables."""

from __future__ import annotations

import ast
import importlib.util
import json
from collections.abc import Iterable
from pathlib import Path

from reprospec.compose import LoadedSpec
from reprospec.errors import SpecError

# Files DVC itself writes beside dvc.yaml.
DVC_FILES = frozenset({"dvc.lock"})


def check_paths(loaded: LoadedSpec, generated: Iterable[str]) -> None:
    """Refuse stage outputs that would overwrite a generated file or DVC's own."""
    reserved = set(generated) | DVC_FILES
    for name, stage in loaded.spec.stages.ordered():
        for key in ("outs", "metrics", "plots"):
            for index, path in enumerate(getattr(stage, key)):
                if path in reserved or any(r.startswith(f"{path}/") for r in reserved):
                    raise SpecError(
                        f"{loaded.relpath}: stages.{name}.{key}.{index}: {path!r} is a "
                        "file reprospec or DVC writes in the bundle; choose another "
                        "path, e.g. under outputs/"
                    )


def check_owner(loaded: LoadedSpec, bundle: Path) -> None:
    """Refuse to overwrite a bundle that another spec of the same name built."""
    try:
        owner = json.loads((bundle / "manifest.json").read_text())["spec"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    if owner != loaded.relpath:
        raise SpecError(
            f"{loaded.relpath}: name {loaded.spec.name!r} is taken: "
            f"{bundle.relative_to(loaded.root)} was built from {owner}; give one of "
            "the two specs another name"
        )


def check_callables(loaded: LoadedSpec) -> None:
    """Refuse a stage whose module or function cannot be found, without importing it."""
    for name, stage in loaded.spec.stages.ordered():
        module, _, function = stage.run.partition(":")
        source = _module_file(loaded.root, module)
        where = f"{loaded.relpath}: stages.{name}.run: {stage.run!r}"
        if source is None:
            if not _importable(module):
                raise SpecError(
                    f"{where}: no module {module!r} in the project or the environment"
                )
            continue
        if function not in _top_level_names(source):
            raise SpecError(
                f"{where}: {source.relative_to(loaded.root)} defines no {function!r}"
            )


def _module_file(root: Path, module: str) -> Path | None:
    base = module.replace(".", "/")
    for candidate in (root / f"{base}.py", root / base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _top_level_names(source: Path) -> set[str]:
    try:
        tree = ast.parse(source.read_text(), filename=str(source))
    except SyntaxError as exc:
        raise SpecError(
            f"{source}:{exc.lineno}: the stage module does not parse: {exc.msg}"
        ) from None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names
