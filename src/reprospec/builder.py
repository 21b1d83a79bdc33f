"""Compile a loaded spec into bundle files: lock, emitters, manifest."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from reprospec import bundle, checks, conda_lock, lock
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


def previous_locks(loaded: LoadedSpec) -> list[Path]:
    """Return where earlier locks of this spec may be: its bundle, then build/NAME."""
    committed = loaded.root / "build" / loaded.spec.name
    return [
        bundle_dir(loaded) / "requirements-lock.txt",
        committed / "requirements-lock.txt",
    ]


def lock_cache(loaded: LoadedSpec) -> Path:
    """Return the folder that keeps every lock resolved in this project."""
    return loaded.root / STATE_DIR / "locks"


def compile_spec(loaded: LoadedSpec, resolved: lock.Lock | None = None) -> Compiled:
    """Resolve the lock (or reuse it, or take the one given) and render every file."""
    target = bundle_dir(loaded)
    if resolved is None:
        resolved = lock.resolve(
            loaded.spec,
            loaded.relpath,
            previous=previous_locks(loaded),
            cache_dir=lock_cache(loaded),
            root=loaded.root,
        )
    relpath = target.relative_to(loaded.root).as_posix()
    inputs = BuildInputs(
        loaded=loaded,
        lock=resolved,
        bundle_relpath=relpath,
        code=_code(loaded, target),
        conda_lock=conda_lock.resolve(
            loaded.spec,
            loaded.relpath,
            [p.with_name("conda-lock.yml") for p in previous_locks(loaded)],
        ),
    )
    files = emit_all(inputs)
    checks.check_paths(loaded, files)
    checks.check_callables(loaded)
    blobs = bundle.with_manifest(
        files, loaded.relpath, loaded.spec.digest(), loaded.overrides
    )
    return Compiled(path=target, blobs=blobs, lock=resolved)


def stage_modules(loaded: LoadedSpec) -> dict[str, Path]:
    """Return each stage's module file in the project, where it can be found."""
    found = {}
    for name, stage in loaded.spec.stages.ordered():
        module = stage.run.split(":")[0].replace(".", "/")
        for candidate in (f"{module}.py", f"{module}/__init__.py"):
            path = loaded.root / candidate
            if path.is_file():
                found[name] = path
                break
    return found


def _code(loaded: LoadedSpec, target: Path) -> dict[str, str]:
    """Return what DVC watches for each stage's code: its whole top-level package.

    A stage module often imports its siblings (shared loading or scoring code),
    so watching the package re-runs a stage whenever any of them changes.
    """
    watched = {}
    for name, path in stage_modules(loaded).items():
        top = loaded.root / path.relative_to(loaded.root).parts[0]
        source = top if (top / "__init__.py").is_file() else path
        watched[name] = Path(os.path.relpath(source, target)).as_posix()
    return watched


def ensure_built(
    loaded: LoadedSpec, resolved: lock.Lock | None = None
) -> tuple[Compiled, list[str]]:
    """Write the bundle when it differs from the spec; return what changed."""
    compiled = compile_spec(loaded, resolved)
    changed = bundle.changed_files(compiled.path, compiled.blobs)
    if changed:
        checks.check_owner(loaded, compiled.path)
        bundle.write(compiled.path, compiled.blobs)
    return compiled, changed
