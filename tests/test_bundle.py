"""The bundle writer: atomic replacement that keeps what runs left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from reprospec import bundle


def _blobs(**files: str) -> dict[str, bytes]:
    return bundle.with_manifest(files, "specs/x.yaml", "sha256:" + "0" * 64, ())


def test_write_keeps_run_state_and_drops_stale_files(tmp_path: Path) -> None:
    target = tmp_path / "build" / "x"
    bundle.write(target, _blobs(**{"a.txt": "one\n", "old.txt": "gone\n"}))
    (target / "dvc.lock").write_text("lock\n")
    (target / "data").mkdir()
    (target / "data" / "out.npy").write_bytes(b"\x00")

    bundle.write(target, _blobs(**{"a.txt": "two\n"}))

    assert (target / "a.txt").read_text() == "two\n"
    assert not (target / "old.txt").exists()
    assert (target / "dvc.lock").read_text() == "lock\n"
    assert (target / "data" / "out.npy").read_bytes() == b"\x00"
    assert [p.name for p in (tmp_path / "build").iterdir()] == ["x"]


def test_crash_while_writing_leaves_previous_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "x"
    bundle.write(target, _blobs(**{"a.txt": "one\n"}))
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(bundle, "_swap", crash)
    with pytest.raises(OSError, match="disk full"):
        bundle.write(target, _blobs(**{"a.txt": "two\n"}))
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["x"]


def test_changed_files_lists_edits_missing_and_stale(tmp_path: Path) -> None:
    target = tmp_path / "x"
    bundle.write(target, _blobs(**{"a.txt": "1\n", "b.txt": "2\n"}))
    (target / "a.txt").write_text("edited\n")
    assert bundle.changed_files(target, _blobs(**{"a.txt": "1\n", "c.txt": "3\n"})) == [
        "a.txt",
        "b.txt",
        "c.txt",
        "manifest.json",
    ]
