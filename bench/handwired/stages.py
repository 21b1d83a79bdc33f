"""Run one stage of the digits pipeline wired by hand, as done without reprospec.

    python stages.py ingest|preprocess|train|evaluate

Reads the stage's files and params from spec.yaml beside this file (the digits
spec as resolved, so this pipeline follows the example), seeds random and
NumPy, and torch in the stages that use it, then calls the stage function.
"""

from __future__ import annotations

import importlib
import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
TORCH_STAGES = ("train", "evaluate")


def main(name: str) -> None:
    spec = yaml.safe_load((HERE / "spec.yaml").read_text())
    stage = spec["stages"][name]
    seed = spec["seed"]
    random.seed(seed)
    np.random.seed(seed)
    if name in TORCH_STAGES:
        import torch

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(seed)
    sys.path.insert(0, str(PROJECT))
    module, _, function = stage["run"].partition(":")
    getattr(importlib.import_module(module), function)(_context(name, stage, seed))


def _context(name: str, stage: dict[str, Any], seed: int) -> Any:
    from reprospec.runtime import StageContext

    params = yaml.safe_load((HERE / "params.yaml").read_text())
    package = importlib.util.find_spec(stage["run"].split(".")[0])
    code = tuple(Path(p) for p in package.submodule_search_locations or ())
    return StageContext(
        name=name,
        seed=seed,
        params={key: params[key] for key in stage["params"]},
        deps=tuple(Path(p) for p in stage["deps"]),
        outs=tuple(Path(p) for p in stage["outs"]),
        metrics=tuple(Path(p) for p in stage["metrics"]),
        plots=tuple(Path(p) for p in stage["plots"]),
        rng=np.random.default_rng(seed),
        code=code,
    )


if __name__ == "__main__":
    main(sys.argv[1])
