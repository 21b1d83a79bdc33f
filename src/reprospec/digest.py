"""Digest stage outputs canonically: arrays by dtype, shape and values."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def output_digest(path: Path) -> str:
    """Return the canonical digest of an output file.

    .npy and .npz files are digested by their arrays, so the same values give
    the same digest whatever the container; .pt files by their tensors; any
    other file by its bytes.
    """
    if path.suffix == ".npy":
        import numpy as np

        return _finish(_array_hasher(np.load(path, allow_pickle=False)))
    if path.suffix == ".npz":
        return _npz_digest(path)
    if path.suffix == ".pt":
        return _torch_digest(path)
    return file_digest(path)


def file_digest(path: Path) -> str:
    """Return the sha256 digest of a file's bytes."""
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            hasher.update(block)
    return _finish(hasher)


def array_digest(array: Any) -> str:
    """Return the canonical digest of one array-like value."""
    return _finish(_array_hasher(array))


def _array_hasher(array: Any) -> Any:
    import numpy as np

    data = np.asarray(array)
    little = np.ascontiguousarray(data.astype(data.dtype.newbyteorder("<"), copy=False))
    hasher = hashlib.sha256()
    hasher.update(f"{little.dtype.str}|{list(little.shape)}|".encode())
    hasher.update(little.data)
    return hasher


def _npz_digest(path: Path) -> str:
    import numpy as np

    hasher = hashlib.sha256()
    with np.load(path, allow_pickle=False) as archive:
        for name in sorted(archive.files):
            hasher.update(f"{name}={array_digest(archive[name])};".encode())
    return _finish(hasher)


def _torch_digest(path: Path) -> str:
    if not zipfile.is_zipfile(path):
        return file_digest(path)
    import torch

    state = torch.load(io.BytesIO(path.read_bytes()), weights_only=True)
    hasher = hashlib.sha256()
    _feed(hasher, "", state)
    return _finish(hasher)


def _feed(hasher: Any, key: str, value: Any) -> None:
    if isinstance(value, dict):
        for name in sorted(value, key=str):
            _feed(hasher, f"{key}/{name}", value[name])
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _feed(hasher, f"{key}[{index}]", item)
    elif hasattr(value, "detach"):
        array = value.detach().cpu().contiguous().numpy()
        hasher.update(f"{key}={array_digest(array)};".encode())
    else:
        hasher.update(f"{key}={value!r};".encode())


def _finish(hasher: Any) -> str:
    return "sha256:" + str(hasher.hexdigest())
