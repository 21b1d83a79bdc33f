"""The stage runtime in real stage processes: fences, threads, hash seed, workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reprospec.environment import determinism_settings, launch_env
from reprospec.spec import Spec

SEED = 7

LAUNCHER = """
import json, os, sys
sys.path.insert(0, os.getcwd())
{preamble}
from reprospec.runtime import run_stage

run_stage(
    "train",
    {{"run": "stagecode:main", "deps": [], "outs": ["out.json"], "params": [],
      "metrics": []}},
    seed={seed}, threads={threads}, framework={framework!r}, strict=True,
    launch_env=json.loads(os.environ["TEST_LAUNCH_ENV"]),
)
"""

# Writes what the stage process sees: loaded frameworks, switches, variables.
REPORTING_STAGE = """
import json, os, sys
from reprospec import runtime

FOREIGN = {"torch": "tensorflow", "tensorflow": "torch"}


def main(ctx):
    framework = ctx.params.get("framework") or os.environ["TEST_FRAMEWORK"]
    __import__(framework)
    report = {
        "loaded": sorted(
            m for m in ("torch", "tensorflow") if sys.modules.get(m) is not None
        ),
        "switches": runtime.applied_switches(framework),
        "env": dict(os.environ),
    }
    try:
        __import__(FOREIGN[framework])
    except ModuleNotFoundError as exc:
        report["refused"] = str(exc)
    report["loaded_after"] = sorted(
        m for m in ("torch", "tensorflow") if sys.modules.get(m) is not None
    )
    ctx.out("out.json").write_text(json.dumps(report))
"""

# Draws from every source in two DataLoader workers.
WORKER_STAGE = """
import json, random
import numpy as np
import torch
from reprospec import runtime


class Draws(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, index):
        return {
            "index": index,
            "worker": torch.utils.data.get_worker_info().id,
            "torch": torch.rand(1).item(),
            "numpy": float(np.random.random()),
            "random": random.random(),
            "rng": float(runtime.worker_rng().random()),
        }


def main(ctx):
    loader = torch.utils.data.DataLoader(
        Draws(),
        batch_size=None,
        shuffle=True,
        num_workers=2,
        generator=runtime.torch_generator(),
        worker_init_fn=runtime.worker_init_fn,
    )
    ctx.out("out.json").write_text(json.dumps(list(loader)))
"""


def _spec(framework: str) -> Spec:
    stage = {"run": "stagecode:main"}
    return Spec.model_validate(
        {
            "spec_version": 1,
            "name": "probe",
            "team": "t",
            "project": "p",
            "seed": SEED,
            "environment": {"framework": framework, "requirements": ["numpy"]},
            "stages": {s: stage for s in ("ingest", "preprocess", "train", "evaluate")},
        }
    )


def _stage(
    folder: Path,
    source: str,
    framework: str,
    preamble: str = "",
    start_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run stagecode:main as a stage in a fresh interpreter, as entrypoint.py does."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stagecode.py").write_text(source)
    (folder / "params.yaml").write_text(f"seed: {SEED}\n")
    launch = launch_env(_spec(framework))
    outside = {k: v for k, v in os.environ.items() if k not in launch}
    env = {
        **outside,
        **(launch if start_env is None else start_env),
        "TEST_LAUNCH_ENV": json.dumps(launch),
        "TEST_FRAMEWORK": framework,
    }
    code = LAUNCHER.format(preamble=preamble, seed=SEED, threads=1, framework=framework)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _report(folder: Path) -> Any:
    return json.loads((folder / "out.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("framework", "foreign"), [("torch", "tensorflow"), ("tensorflow", "torch")]
)
def test_stage_loads_only_its_framework_and_runs_under_the_recorded_settings(
    tmp_path: Path, framework: str, foreign: str
) -> None:
    done = _stage(tmp_path, REPORTING_STAGE, framework)
    assert done.returncode == 0, done.stderr[-3000:]
    report = _report(tmp_path)

    assert report["loaded"] == [framework]
    assert report["loaded_after"] == [framework]
    assert f"environment.framework is {framework!r}" in report["refused"]
    assert f"so {foreign!r} would run unseeded" in report["refused"]

    settings = determinism_settings(_spec(framework))
    switches = {k: v for k, v in settings.items() if k.startswith(f"{framework}.")}
    assert switches and report["switches"] == switches
    variables = {k[4:]: v for k, v in settings.items() if k.startswith("env.")}
    assert {k: report["env"].get(k) for k in variables} == variables
    if framework == "tensorflow":
        assert report["env"]["TF_ENABLE_ONEDNN_OPTS"] == "0"
        assert report["env"]["TF_NUM_INTRAOP_THREADS"] == "1"
        assert report["env"]["TF_NUM_INTEROP_THREADS"] == "1"


@pytest.mark.slow
def test_dataloader_workers_draw_distinct_streams_that_repeat(tmp_path: Path) -> None:
    runs = []
    for number in (1, 2):
        done = _stage(tmp_path / str(number), WORKER_STAGE, "torch")
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(_report(tmp_path / str(number)))

    assert runs[0] == runs[1]
    draws = runs[0]
    assert sorted(d["index"] for d in draws) == list(range(8))
    by_worker = {w: [d for d in draws if d["worker"] == w] for w in (0, 1)}
    assert all(len(found) == 4 for found in by_worker.values())
    for source in ("torch", "numpy", "random", "rng"):
        first, second = ([d[source] for d in by_worker[w]] for w in (0, 1))
        assert first != second, source
        assert len(set(first + second)) == 8, source


def test_hash_seed_set_after_start_refuses_the_stage(tmp_path: Path) -> None:
    launch = launch_env(_spec("numpy"))
    late = "os.environ.update(json.loads(os.environ['TEST_LAUNCH_ENV']))"
    start = {k: v for k, v in launch.items() if k != "PYTHONHASHSEED"}
    done = _stage(tmp_path, "def main(ctx): pass\n", "numpy", late, start)
    assert done.returncode == 1
    assert "stage 'train' refused to start" in done.stderr
    assert f"does not hash as PYTHONHASHSEED={SEED} would" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_threads_started_before_the_stage_refuse_it(tmp_path: Path) -> None:
    early = "import torch; torch.set_num_interop_threads(2)"
    done = _stage(tmp_path, "def main(ctx): pass\n", "torch", early)
    assert done.returncode == 1
    assert "torch.num_interop_threads: wanted 1, the framework reports 2" in done.stderr
    assert not (tmp_path / "out.json").exists()


AUTOCAST_STAGE = """
import torch


def main(ctx):
    with torch.autocast("cpu", enabled=False):
        torch.ones(2, 2) @ torch.ones(2, 2)
    with torch.autocast("cpu"):
        torch.ones(2, 2) @ torch.ones(2, 2)
    ctx.out("out.json").write_text("{}")
"""

TF32_STAGE = """
import torch


def main(ctx):
    torch.set_float32_matmul_precision("high")
    ctx.out("out.json").write_text("{}")
"""

KERAS_POLICY_STAGE = """
import tensorflow as tf


def main(ctx):
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    ctx.out("out.json").write_text("{}")
"""


@pytest.mark.slow
def test_strict_stage_refuses_torch_autocast(tmp_path: Path) -> None:
    done = _stage(tmp_path, AUTOCAST_STAGE, "torch")
    assert done.returncode != 0
    assert "ReducedPrecisionRefused: torch.autocast('cpu')" in done.stderr
    assert "set determinism.strict: false in the spec" in done.stderr
    assert not (tmp_path / "out.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("framework", "source", "named"),
    [
        ("torch", TF32_STAGE, "torch.backends.cuda.matmul.allow_tf32: set to false"),
        ("tensorflow", KERAS_POLICY_STAGE, "policy: mixed_bfloat16, not float32"),
    ],
)
def test_strict_stage_that_turns_on_tf32_or_mixed_precision_is_refused(
    tmp_path: Path, framework: str, source: str, named: str
) -> None:
    done = _stage(tmp_path, source, framework)
    assert done.returncode == 1
    assert "stage 'train' refused: the stage changed these determinism" in done.stderr
    assert named in done.stderr
    assert "determinism.strict: true refuses TF32 and mixed precision" in done.stderr
    assert "Traceback" not in done.stderr
