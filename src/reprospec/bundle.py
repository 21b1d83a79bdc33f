"""Write a bundle atomically, or compare it with what is on disk."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from reprospec import __version__

MANIFEST = "manifest.json"
_RENAME_EXCHANGE = 2


def with_manifest(
    files: dict[str, str], spec_path: str, spec_digest: str, overrides: tuple[str, ...]
) -> dict[str, bytes]:
    """Return the bundle's files as bytes, plus a manifest of their digests."""
    blobs = {path: text.encode() for path, text in sorted(files.items())}
    manifest = {
        "reprospec": __version__,
        "spec": spec_path,
        "overrides": list(overrides),
        "spec_digest": spec_digest,
        "files": {path: sha256(blob) for path, blob in blobs.items()},
    }
    blobs[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    return blobs


def sha256(blob: bytes) -> str:
    """Return the sha256 digest of blob, prefixed with its algorithm."""
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def changed_files(bundle: Path, blobs: dict[str, bytes]) -> list[str]:
    """Return the bundle paths whose content on disk differs from blobs."""
    changed = []
    for path, blob in blobs.items():
        try:
            if (bundle / path).read_bytes() != blob:
                changed.append(path)
        except OSError:
            changed.append(path)
    stale = set(_generated(bundle)) - set(blobs)
    return sorted(set(changed) | stale)


def _generated(bundle: Path) -> list[str]:
    try:
        manifest = json.loads((bundle / MANIFEST).read_text())
        return [*manifest["files"], MANIFEST]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def write(bundle: Path, blobs: dict[str, bytes]) -> None:
    """Replace bundle with blobs in one rename, keeping files DVC and runs made.

    The new bundle is assembled in a sibling folder; files the old bundle holds
    that it did not generate (dvc.lock, stage outputs) are hard-linked across,
    so a crash at any point leaves the old bundle whole.
    """
    bundle.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{bundle.name}.", dir=bundle.parent))
    staging.chmod(0o755)
    try:
        for path, blob in blobs.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
            if path.endswith(".py"):
                target.chmod(0o755)
        if bundle.exists():
            _carry_run_state(bundle, staging, set(_generated(bundle)) | set(blobs))
        _swap(staging, bundle)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _carry_run_state(old: Path, new: Path, generated: set[str]) -> None:
    for source in sorted(old.rglob("*")):
        rel = source.relative_to(old).as_posix()
        if rel in generated or source.is_dir() or source.is_symlink():
            continue
        target = new / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)


def _swap(staging: Path, bundle: Path) -> None:
    """Put staging at bundle; afterwards staging holds the old bundle, if any."""
    if bundle.exists() and _exchange(staging, bundle):
        return
    if bundle.exists():
        # No atomic exchange here: two renames, with a short window between.
        aside = staging.with_name(staging.name + ".old")
        bundle.rename(aside)
        staging.rename(bundle)
        aside.rename(staging)
    else:
        staging.rename(bundle)
        staging.mkdir()


def _exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(
        at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE
    )
    return bool(result == 0)
