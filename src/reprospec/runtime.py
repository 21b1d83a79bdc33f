"""Seed a stage process and run its callable: the code inside every stage.

This module runs in each stage's own interpreter, so it imports neither Hydra
nor the emitters, and a framework only when the spec names it.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import random
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprospec.errors import ReprospecError, SeedNotSetError

_SEED: int | None = None


def set_global_seed(seed: int, framework: str = "numpy") -> None:
    """Seed random, NumPy and, when named, torch or TensorFlow."""
    global _SEED
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    if framework == "torch":
        import torch

        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
    elif framework == "tensorflow":
        import tensorflow as tf

        tf.keras.utils.set_random_seed(seed)
    _SEED = seed


def current_seed() -> int:
    """Return the run's seed; raise SeedNotSetError outside a seeded stage."""
    if _SEED is None:
        raise SeedNotSetError(
            "stage code asked for the seed before reprospec seeded the process; "
            "run stages through the bundle's entrypoint.py or `reprospec run`"
        )
    return _SEED


def _pin_threads(threads: int, framework: str, strict: bool) -> None:
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        if torch.get_num_interop_threads() != threads:
            # Fixed once any parallel work ran; the launcher's variables set it.
            with contextlib.suppress(RuntimeError):
                torch.set_num_interop_threads(threads)
        torch.use_deterministic_algorithms(strict)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif framework == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        if strict:
            tf.config.experimental.enable_op_determinism()


def _check_launch(launch_env: Mapping[str, str]) -> None:
    wrong = {
        k: os.environ.get(k) for k, v in launch_env.items() if os.environ.get(k) != v
    }
    if wrong:
        raise SeedNotSetError(
            f"the stage interpreter started without {sorted(wrong)} set as the "
            "spec requires; start it through the bundle's entrypoint.py"
        )


@dataclass(frozen=True)
class StageContext:
    """What a stage callable receives: its params, paths and seeded generator."""

    name: str
    seed: int
    params: Mapping[str, Any]
    deps: tuple[Path, ...]
    outs: tuple[Path, ...]
    metrics: tuple[Path, ...]
    rng: Any = field(repr=False)

    def out(self, path: str) -> Path:
        """Return a declared output's path, with its folder created."""
        return self._declared(path, self.outs + self.metrics, "outs or metrics")

    def dep(self, path: str) -> Path:
        """Return a declared dependency's path."""
        return self._declared(path, self.deps, "deps")

    def _declared(self, path: str, allowed: tuple[Path, ...], what: str) -> Path:
        target = Path(path)
        if target not in allowed:
            raise ReprospecError(
                f"stage {self.name!r} used {path!r}, which its {what} do not list; "
                "add it to the stage in the spec"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        return target


def run_stage(
    name: str,
    table: Mapping[str, Any],
    *,
    seed: int,
    threads: int,
    framework: str,
    strict: bool,
    launch_env: Mapping[str, str],
) -> None:
    """Seed this process, then import and call the stage's callable."""
    _check_launch(launch_env)
    set_global_seed(seed, framework)
    _pin_threads(threads, framework, strict)
    import numpy as np

    context = StageContext(
        name=name,
        seed=seed,
        params=_load_params(table["params"], seed),
        deps=tuple(Path(p) for p in table["deps"]),
        outs=tuple(Path(p) for p in table["outs"]),
        metrics=tuple(Path(p) for p in table["metrics"]),
        rng=np.random.default_rng(seed),
    )
    module_name, _, attr = table["run"].partition(":")
    function = getattr(importlib.import_module(module_name), attr)
    function(context)
    missing = [str(p) for p in (*context.outs, *context.metrics) if not p.exists()]
    if missing:
        sys.exit(f"stage {name!r} finished without writing {', '.join(missing)}")


def _load_params(refs: list[str], seed: int) -> dict[str, Any]:
    import yaml

    with open("params.yaml") as handle:
        data = yaml.safe_load(handle) or {}
    params: dict[str, Any] = {}
    for ref in refs:
        node: Any = data
        for part in ref.split("."):
            node = node[part]
        params[ref] = node
    params.setdefault("seed", seed)
    return params
