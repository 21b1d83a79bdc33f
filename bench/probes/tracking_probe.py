"""Time recording one run in an MLflow store, as `reprospec run` records it.

    python bench/probes/tracking_probe.py PROJECT URI RUNS

PROJECT is a project clone holding build/digits-mlp; URI is the store. Imports
MLflow first (timed apart, as `reprospec run` loads it while its stages run),
records one run as a fresh `reprospec run` process does, then RUNS more in the
same process, and prints JSON: the seconds of the import, the first run and
each later one.
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from reprospec import prewarm, tracking

ARTIFACTS = ("spec.yaml", "requirements-lock.txt", "environment.yml", "dvc.yaml")


def _flat(data: dict[str, object], prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            found.update(_flat(value, f"{prefix}{key}."))
        else:
            found[f"{prefix}{key}"] = str(value)
    return found


def record(project: Path, uri: str, extra: Path) -> float:
    bundle = project / "build" / "digits-mlp"
    params = _flat(yaml.safe_load((bundle / "params.yaml").read_text()))
    now = int(time.time() * 1000)
    run = tracking.RunRecord(
        experiment="vision/digits/bench",
        run_name="digits-mlp",
        start_ms=now,
        end_ms=now,
        status="FINISHED",
        params=params,
        tags={f"bench.tag{i:02d}": "x" * 40 for i in range(40)},
        metrics={"accuracy": 0.98, "n_test": 449.0},
        artifacts=(*(bundle / name for name in ARTIFACTS), extra),
    )
    start = time.perf_counter()
    tracking.record(uri, project, run)
    return time.perf_counter() - start


def main(project: Path, uri: str, runs: int) -> None:
    start = time.perf_counter()
    for name in prewarm.MLFLOW:
        importlib.import_module(name)
    imported = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        extra = Path(tmp, "digests.json")
        extra.write_text(json.dumps({"outputs/predictions.npy": "sha256:" + "0" * 64}))
        first = record(project, uri, extra)
        samples = [record(project, uri, extra) for _ in range(runs)]
    print(json.dumps({"import": imported, "first": first, "samples": samples}))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), sys.argv[2], int(sys.argv[3]))
