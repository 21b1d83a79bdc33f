"""The platform fingerprint: what it records, and that it stays cheap."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from reprospec import fingerprint


def test_fingerprint_names_this_machine() -> None:
    taken = fingerprint.take()

    cpu = Path("/proc/cpuinfo").read_text()
    model = next(line for line in cpu.splitlines() if line.startswith("model name"))
    assert taken["cpu"]["model"] == model.partition(":")[2].strip()
    flags = set(next(ln for ln in cpu.splitlines() if ln.startswith("flags")).split())
    assert taken["cpu"]["flags"] == [f for f in fingerprint.CPU_FLAGS if f in flags]
    assert taken["cores"]["logical"] >= taken["cores"]["usable"] >= 1
    assert taken["python"]["version"] == platform.python_version()
    assert taken["packages"]["numpy"] == metadata.version("numpy")
    assert taken["packages"]["reprospec"] == metadata.version("reprospec")
    assert taken["os"]["system"] == platform.system()
    assert fingerprint.digest(fingerprint.take()) == fingerprint.digest(taken)


def test_tags_are_flat_strings() -> None:
    taken = fingerprint.take()
    tags = fingerprint.tags(taken)
    assert tags["platform.digest"] == fingerprint.digest(taken)
    assert tags["platform.cpu.flags"] == (" ".join(taken["cpu"]["flags"]) or "none")
    assert tags["platform.python.version"] == platform.python_version()
    assert all(isinstance(v, str) and v for v in tags.values())


def test_gpus_come_from_the_driver_files(tmp_path: Path) -> None:
    assert fingerprint.gpus(tmp_path / "absent") == []
    (tmp_path / "version").write_text(
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.54.15  "
        "Release Build  (dvs-builder@U16-I3-C07-3-3)  Tue Mar  5 22:21:06 UTC 2024\n"
        "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"
    )
    for bus, name in (("0000:1a:00.0", "NVIDIA H200"), ("0000:01:00.0", "NVIDIA L4")):
        board = tmp_path / "gpus" / bus
        board.mkdir(parents=True)
        (board / "information").write_text(
            f"Model: \t\t {name}\nIRQ:   \t\t 180\nGPU UUID: \t GPU-0\n"
        )
    assert fingerprint.gpus(tmp_path) == [
        {"name": "NVIDIA L4", "bus": "0000:01:00.0", "driver": "550.54.15"},
        {"name": "NVIDIA H200", "bus": "0000:1a:00.0", "driver": "550.54.15"},
    ]


def test_fingerprint_imports_nothing_heavy_and_is_fast() -> None:
    probe = (
        "import json, sys, time\n"
        "start = time.perf_counter()\n"
        "from reprospec import fingerprint\n"
        "fingerprint.take()\n"
        "took = time.perf_counter() - start\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'numpy', 'torch', 'tensorflow', 'mlflow', 'dvc'})\n"
        "print(json.dumps({'took': took, 'heavy': heavy}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout)
    assert result["heavy"] == []
    assert result["took"] < 1.0
