"""Compile a loaded spec into bundle files: lock, emitters, manifest."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from reprospec import bundle, lock
from reprospec.compose import LoadedSpec
from reprospec.emitters import BuildInputs, emit_all

STATE_DIR = ".reprospec"


@dataclass(frozen=True)
class Compiled:
    """A compiled bundle in memory and the folder it belongs in."""

    path: Path
    blobs: dict[str, bytes]
    lock: lock.Lock

    @property
    def relpath(self) -> str:
        """Return the bundle folder relative to the project root."""
        return self.path.as_posix()


def bundle_dir(loaded: LoadedSpec) -> Path:
    """Return where the bundle lives: build/NAME, or a private folder with overrides.

    A bundle built with overrides goes under .reprospec/ so the committed bundle
    stays in sync with the spec as written.
    """
    name = loaded.spec.name
    if not loaded.overrides:
        return loaded.root / "build" / name
    digest = loaded.spec.digest().removeprefix("sha256:")[:12]
    return loaded.root / STATE_DIR / "bundles" / f"{name}-{digest}"


def compile_spec(loaded: LoadedSpec) -> Compiled:
    """Resolve the lock (or reuse it) and render every artifact."""
    target = bundle_dir(loaded)
    committed = loaded.root / "build" / loaded.spec.name
    resolved = lock.resolve(
        loaded.spec,
        loaded.relpath,
        previous=[
            target / "requirements-lock.txt",
            committed / "requirements-lock.txt",
        ],
        cache_dir=loaded.root / STATE_DIR / "locks",
    )
    relpath = target.relative_to(loaded.root).as_posix()
    inputs = BuildInputs(
        loaded=loaded, lock=resolved, bundle_relpath=relpath, code=_code(loaded, target)
    )
    files = emit_all(inputs)
    blobs = bundle.with_manifest(
        files, loaded.relpath, loaded.spec.digest(), loaded.overrides
    )
    return Compiled(path=target, blobs=blobs, lock=resolved)


def _code(loaded: LoadedSpec, target: Path) -> dict[str, str]:
    found = {}
    for name, stage in loaded.spec.stages.ordered():
        module = stage.run.split(":")[0].replace(".", "/")
        for candidate in (f"{module}.py", f"{module}/__init__.py"):
            path = loaded.root / candidate
            if path.is_file():
                found[name] = Path(os.path.relpath(path, target)).as_posix()
                break
    return found


def ensure_built(loaded: LoadedSpec) -> tuple[Compiled, list[str]]:
    """Write the bundle when it differs from the spec; return what changed."""
    compiled = compile_spec(loaded)
    changed = bundle.changed_files(compiled.path, compiled.blobs)
    if changed:
        bundle.write(compiled.path, compiled.blobs)
    return compiled, changed
