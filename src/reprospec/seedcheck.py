"""Check statically that stage code leaves seeding to the entry point.

The entry point seeds every generator before it imports a stage's module, so a
stage stays reproducible as long as its module draws nothing at import time,
re-seeds nothing with a constant of its own, and makes no generator without a
seed. Each finding names the file, line and column, and what to use instead.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# Calls that make a generator; with no argument they seed from the OS.
UNSEEDED = {
    "random.Random",
    "numpy.random.default_rng",
    "numpy.random.RandomState",
    "numpy.random.Generator",
    "torch.Generator",
}
# Calls that replace the seed the spec set for the whole process.
RESEEDS = {
    "random.seed",
    "numpy.random.seed",
    "torch.manual_seed",
    "torch.cuda.manual_seed_all",
    "tensorflow.random.set_seed",
    "keras.utils.set_random_seed",
}
DRAWING_MODULES = ("random.", "numpy.random.", "torch.rand", "tensorflow.random.")
# All the generated entry point may import before run_stage has seeded.
ENTRYPOINT_IMPORTS = {"os", "sys", "pathlib", "reprospec.runtime"}


@dataclass(frozen=True)
class Finding:
    """One place where stage code works around the spec's seed."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


def check_module(source: str, path: str) -> list[Finding]:
    """Return every seeding problem in one stage module's source."""
    tree = ast.parse(source, filename=path)
    aliases = _aliases(tree)
    findings = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _qualified(node.func, aliases)
            findings += _check_call(node, name, path)
    findings += _import_time_draws(tree, aliases, path)
    return sorted(findings, key=lambda f: (f.line, f.column, f.message))


def _check_call(node: ast.Call, name: str | None, path: str) -> list[Finding]:
    where = (path, node.lineno, node.col_offset + 1)
    bare = not node.args and not node.keywords
    if name in UNSEEDED and bare and not _seeded_at_once(node):
        return [
            Finding(
                *where,
                f"{name}() makes a generator seeded from the OS; use ctx.rng, "
                "or seed it from ctx.seed",
            )
        ]
    if name in RESEEDS and node.args and isinstance(node.args[0], ast.Constant):
        return [
            Finding(
                *where,
                f"{name}({node.args[0].value!r}) replaces the spec's seed with a "
                "constant; the entry point already seeds it from the spec (use "
                "ctx.seed where a seed is needed)",
            )
        ]
    return []


def _seeded_at_once(node: ast.Call) -> bool:
    parent = getattr(node, "reprospec_parent", None)
    return isinstance(parent, ast.Attribute) and parent.attr == "manual_seed"


def _import_time_draws(
    tree: ast.Module, aliases: dict[str, str], path: str
) -> list[Finding]:
    findings = []
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in ast.walk(statement):
            if not isinstance(node, ast.Call):
                continue
            name = _qualified(node.func, aliases)
            if name and name.startswith(DRAWING_MODULES) and name not in UNSEEDED:
                findings.append(
                    Finding(
                        path,
                        node.lineno,
                        node.col_offset + 1,
                        f"{name}() runs when the module is imported; move it into "
                        "the stage function, which runs seeded",
                    )
                )
    return findings


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Return local name -> full dotted name for every import, and link parents."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.reprospec_parent = node  # type: ignore[attr-defined]
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                aliases[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    aliases.setdefault("np", "np")
    return aliases


def _qualified(func: ast.expr, aliases: dict[str, str]) -> str | None:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return None
    root = aliases.get(func.id)
    if root is None:
        return None
    name = ".".join([root, *reversed(parts)])
    return name.replace("tf.", "tensorflow.", 1) if name.startswith("tf.") else name


def check_files(paths: list[Path], root: Path) -> list[Finding]:
    """Return the findings of every stage module, paths shown from root."""
    findings = []
    for path in paths:
        shown = (
            path.relative_to(root).as_posix()
            if path.is_relative_to(root)
            else str(path)
        )
        findings += check_module(path.read_text(), shown)
    return findings


def check_entrypoint(source: str, path: str) -> list[Finding]:
    """Return findings unless the entry point imports nothing but what seeds."""
    tree = ast.parse(source, filename=path)
    findings = []
    for node in ast.walk(tree):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or "."]
        else:
            continue
        for module in modules:
            if module not in ENTRYPOINT_IMPORTS:
                findings.append(
                    Finding(
                        path,
                        node.lineno,
                        node.col_offset + 1,
                        f"imports {module} before run_stage has seeded the process; "
                        "regenerate the entry point with reprospec build",
                    )
                )
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and _called(n) == "run_stage"
    ]
    if not calls:
        findings.append(
            Finding(path, 1, 1, "never calls run_stage, so no stage is seeded")
        )
    return findings


def _called(node: ast.Call) -> str | None:
    return node.func.id if isinstance(node.func, ast.Name) else None
