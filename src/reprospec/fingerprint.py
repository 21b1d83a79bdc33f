"""Describe the machine a run ran on: CPU, cores, OS, Python, libraries and GPUs.

Numerical results can depend on all of these (BLAS and oneDNN pick kernels by
CPU feature), so each run records them. Only the standard library is used, and
nothing is imported or started: files under /proc and package metadata only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# The CPU features that change which numerical kernels libraries choose.
CPU_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512dq",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "sve",
    "sve2",
)
PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "jax",
    "jaxlib",
    "mlflow",
    "dvc",
    "reprospec",
)
# Variables that select kernels or change their rounding on this machine.
KERNEL_VARIABLES = (
    "ATEN_CPU_CAPABILITY",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "NVIDIA_TF32_OVERRIDE",
)
NVIDIA_PROC = Path("/proc/driver/nvidia")


def take() -> dict[str, Any]:
    """Return the fingerprint of this machine and interpreter."""
    return {
        "cpu": _cpu(_read(Path("/proc/cpuinfo"))),
        "cores": {"logical": os.cpu_count() or 0, "usable": _usable_cores()},
        "os": _os(),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "compiler": platform.python_compiler(),
        },
        "packages": _packages(),
        "kernel_env": {k: os.environ[k] for k in KERNEL_VARIABLES if k in os.environ},
        "gpus": gpus(NVIDIA_PROC),
    }


def digest(fingerprint: dict[str, Any]) -> str:
    """Return the digest of a fingerprint, to compare machines at a glance."""
    blob = json.dumps(fingerprint, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def tags(fingerprint: dict[str, Any], prefix: str = "platform.") -> dict[str, str]:
    """Return the fingerprint as flat string tags: lists joined by spaces."""
    flat = {f"{prefix}digest": digest(fingerprint)}
    _flatten(fingerprint, prefix, flat)
    return flat


def _flatten(node: Any, prefix: str, into: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(value, f"{prefix}{key}.", into)
    elif isinstance(node, list) and node and isinstance(node[0], dict):
        for index, item in enumerate(node):
            _flatten(item, f"{prefix}{index}.", into)
    elif isinstance(node, list):
        into[prefix.rstrip(".")] = " ".join(str(item) for item in node) or "none"
    else:
        into[prefix.rstrip(".")] = str(node)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _cpu(cpuinfo: str) -> dict[str, Any]:
    """Return the CPU model and its kernel-relevant flags from /proc/cpuinfo text."""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    model = (
        fields.get("model name")
        or fields.get("hardware")
        or fields.get("cpu model")
        or platform.processor()
        or "unknown"
    )
    present = set((fields.get("flags") or fields.get("features") or "").split())
    return {
        "model": model,
        "machine": platform.machine(),
        "flags": [flag for flag in CPU_FLAGS if flag in present],
    }


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 0


def _os() -> dict[str, str]:
    found = {"system": platform.system(), "release": platform.release()}
    with contextlib.suppress(OSError, KeyError):
        found["distribution"] = platform.freedesktop_os_release()["PRETTY_NAME"]
    libc, version = platform.libc_ver()
    if libc:
        found["libc"] = f"{libc} {version}"
    return found


def _packages() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def gpus(nvidia: Path) -> list[dict[str, str]]:
    """Return each NVIDIA GPU's model and the driver version, from /proc."""
    version = re.search(
        r"Kernel Module\s+(?:for \S+\s+)?(\d[\d.]*)", _read(nvidia / "version")
    )
    driver = version.group(1) if version else "unknown"
    found = []
    boards = nvidia / "gpus"
    for board in sorted(boards.iterdir()) if boards.is_dir() else []:
        info = _read(board / "information")
        model = re.search(r"^Model:\s*(.+)$", info, re.M)
        found.append(
            {
                "name": model.group(1).strip() if model else "unknown",
                "bus": board.name,
                "driver": driver,
            }
        )
    return found


if __name__ == "__main__":
    json.dump(take(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
