"""conda-lock.yml, solved offline by py-rattler from a channel these tests build."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import cli

LOGREG = "specs/digits_logreg.yaml"
# name, version, subdir, depends
PACKAGES = [
    ("libzlib", "1.3.1", "linux-64", []),
    ("libzlib", "1.3.1", "osx-arm64", []),
    ("python", "3.11.7", "linux-64", ["libzlib >=1.3", "__glibc >=2.17"]),
    ("python", "3.11.7", "osx-arm64", ["libzlib >=1.3"]),
    ("python", "3.12.1", "linux-64", ["libzlib >=1.3"]),
    ("pip", "24.3.1", "noarch", ["python >=3.8"]),
]


def _package(
    work: Path, channel: Path, name: str, version: str, subdir: str, depends: list[str]
) -> None:
    from conda_package_handling import api

    source = work / f"{name}-{version}-{subdir}"
    (source / "info").mkdir(parents=True)
    index = {
        "name": name,
        "version": version,
        "build": "0",
        "build_number": 0,
        "depends": depends,
        "subdir": subdir,
        "timestamp": 1700000000000,
        "license": "MIT",
    }
    (source / "info" / "index.json").write_text(json.dumps(index))
    (source / "info" / "paths.json").write_text('{"paths": [], "paths_version": 1}')
    (channel / subdir).mkdir(parents=True, exist_ok=True)
    api.create(
        str(source),
        ["info/index.json", "info/paths.json"],
        f"{name}-{version}-0.conda",
        out_folder=str(channel / subdir),
    )


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a local conda channel: tiny packages, indexed by rattler."""
    from rattler.index import index_fs

    work = tmp_path_factory.mktemp("conda")
    root = work / "channel"
    for name, version, subdir, depends in PACKAGES:
        _package(work / "src", root, name, version, subdir, depends)
    asyncio.run(index_fs(root))
    return root


def _offline_build(project: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    args = ["build", LOGREG, *overrides]
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare or "false", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        return cli(project, *args)
    return subprocess.run(
        [str(unshare), "-n", sys.executable, "-m", "reprospec", *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


def test_conda_lock_is_solved_offline_and_read_by_conda_lock(
    project: Path, channel: Path
) -> None:
    overrides = (
        f"+environment.channels=['{channel.as_uri()}']",
        "+environment.conda_platforms=[linux-64,osx-arm64]",
    )
    done = _offline_build(project, *overrides)
    assert done.returncode == 0, done.stderr
    bundle = project / done.stdout.split(":")[0]
    lock_file = bundle / "conda-lock.yml"
    data = yaml.safe_load(lock_file.read_text())

    assert data["version"] == 1
    assert data["metadata"]["platforms"] == ["linux-64", "osx-arm64"]
    found = {(p["platform"], p["name"], p["version"]) for p in data["package"]}
    assert found == {
        (platform, name, version)
        for platform in ("linux-64", "osx-arm64")
        for name, version in (
            ("libzlib", "1.3.1"),
            ("python", "3.11.7"),
            ("pip", "24.3.1"),
        )
    }
    for package in data["package"]:
        blob = Path(package["url"].removeprefix("file://")).read_bytes()
        assert package["hash"]["sha256"] == hashlib.sha256(blob).hexdigest()
        assert package["hash"]["md5"] == hashlib.md5(blob).hexdigest()

    render = subprocess.run(
        [
            str(Path(sys.executable).parent / "conda-lock"),
            "render",
            "--kind",
            "explicit",
            "--platform",
            "linux-64",
            str(lock_file),
        ],
        cwd=bundle,
        capture_output=True,
        text=True,
        check=False,
    )
    assert render.returncode == 0, render.stderr
    explicit = (bundle / "conda-linux-64.lock").read_text()
    assert "@EXPLICIT" in explicit and "python-3.11.7-0.conda#" in explicit

    dockerfile = (bundle / "Dockerfile").read_text()
    assert "--file /tmp/environment/conda-lock.yml" in dockerfile
    again = _offline_build(project, *overrides)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_unsolvable_conda_environment_is_refused(project: Path, channel: Path) -> None:
    empty = channel.parent / "empty-channel"
    (empty / "noarch").mkdir(parents=True, exist_ok=True)
    done = _offline_build(
        project,
        f"+environment.channels=['{empty.as_uri()}']",
        "+environment.conda_platforms=[linux-64]",
    )
    assert done.returncode == 2, done.stderr[-6000:]
    assert "cannot solve the conda environment for linux-64" in done.stderr
    assert "check environment.channels" in done.stderr
    assert "Traceback" not in done.stderr
