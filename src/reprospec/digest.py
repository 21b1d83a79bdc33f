"""Digest stage outputs canonically: arrays by dtype, shape and values."""

from __future__ import annotations

import collections
import hashlib
import io
import pickle
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
    try:
        state = _read_plain_state(path)
    except (_NeedsTorch, pickle.UnpicklingError, ValueError, KeyError, EOFError):
        import torch

        state = torch.load(io.BytesIO(path.read_bytes()), weights_only=True)
    hasher = hashlib.sha256()
    _feed(hasher, "", state)
    return _finish(hasher)


# Storage classes torch pickles, by the NumPy dtype of their elements.
_STORAGE_DTYPES = {
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "|i1",
    "ByteStorage": "|u1",
    "BoolStorage": "|b1",
}


class _NeedsTorch(Exception):
    """The file holds something only torch itself can read."""


def _read_plain_state(path: Path) -> Any:
    """Read a saved state dict's tensors as NumPy arrays, without importing torch.

    Importing torch takes seconds; a state dict of plain tensors is a pickle of
    a few known names plus one raw little-endian file per storage. Anything else
    raises _NeedsTorch, and torch reads the file instead.
    """
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [name for name in names if name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise _NeedsTorch
        prefix = pickles[0].removesuffix("data.pkl")
        order = f"{prefix}byteorder"
        if order in names and archive.read(order).strip() != b"little":
            raise _NeedsTorch
        blob = io.BytesIO(archive.read(pickles[0]))
        return _StateUnpickler(blob, archive, prefix).load()


class _StateUnpickler(pickle.Unpickler):
    """Unpickle torch's state-dict format into NumPy arrays; refuse anything else."""

    def __init__(self, blob: Any, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(blob)
        self.archive = archive
        self.prefix = prefix

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        raise _NeedsTorch

    def persistent_load(self, pid: Any) -> Any:
        import numpy as np

        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise _NeedsTorch
        _, dtype, key, _, count = pid
        data = self.archive.read(f"{self.prefix}data/{key}")
        return np.frombuffer(data, dtype=dtype, count=count)


def _rebuild_tensor(storage: Any, offset: int, size: Any, stride: Any, *_: Any) -> Any:
    import numpy as np

    view = np.lib.stride_tricks.as_strided(
        storage[offset:],
        shape=tuple(size),
        strides=tuple(step * storage.itemsize for step in stride),
    )
    return np.array(view)


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
    elif type(value).__module__ == "numpy" and hasattr(value, "shape"):
        hasher.update(f"{key}={array_digest(value)};".encode())
    else:
        hasher.update(f"{key}={value!r};".encode())


def _finish(hasher: Any) -> str:
    return "sha256:" + str(hasher.hexdigest())
