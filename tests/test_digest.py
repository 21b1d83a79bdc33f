"""Canonical output digests: values, dtype and shape, whatever the container."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from reprospec.digest import array_digest, file_digest, output_digest


def test_npy_digest_covers_dtype_shape_and_values(tmp_path: Path) -> None:
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "a.npy", values)
    base = output_digest(tmp_path / "a.npy")
    assert base == array_digest(values)
    assert array_digest(values.reshape(4, 3)) != base
    assert array_digest(values.astype(np.float64)) != base
    changed = values.copy()
    changed[0, 0] = np.nextafter(changed[0, 0], np.float32(1))
    assert array_digest(changed) != base


def test_byte_order_and_layout_do_not_change_the_digest(tmp_path: Path) -> None:
    values = np.arange(12, dtype="<f4").reshape(3, 4)
    big = values.astype(">f4")
    fortran = np.asfortranarray(values)
    assert array_digest(big) == array_digest(values) == array_digest(fortran)
    np.save(tmp_path / "big.npy", big)
    assert output_digest(tmp_path / "big.npy") == array_digest(values)


def test_npz_digest_ignores_compression(tmp_path: Path) -> None:
    a, b = np.arange(5), np.ones((2, 2))
    np.savez(tmp_path / "plain.npz", a=a, b=b)
    np.savez_compressed(tmp_path / "packed.npz", b=b, a=a)
    assert (tmp_path / "plain.npz").read_bytes() != (
        tmp_path / "packed.npz"
    ).read_bytes()
    assert output_digest(tmp_path / "plain.npz") == output_digest(
        tmp_path / "packed.npz"
    )


def test_other_files_are_digested_by_bytes(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(b'{"accuracy": 1}\n')
    expected = "sha256:" + hashlib.sha256(b'{"accuracy": 1}\n').hexdigest()
    assert output_digest(path) == file_digest(path) == expected
