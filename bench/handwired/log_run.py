"""Log the hand-wired digits run to MLflow: the same params and metrics reprospec logs.

python log_run.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import yaml

HERE = Path(__file__).resolve().parent


def flat(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            found.update(flat(value, f"{prefix}{key}."))
        else:
            found[f"{prefix}{key}"] = (
                value if isinstance(value, str) else json.dumps(value)
            )
    return found


def main() -> None:
    spec = yaml.safe_load((HERE / "spec.yaml").read_text())
    sections = sorted({p for stage in spec["stages"].values() for p in stage["params"]})
    params = yaml.safe_load((HERE / "params.yaml").read_text())
    metrics = json.loads((HERE / "metrics.json").read_text())
    mlflow.set_tracking_uri(f"sqlite:///{HERE / 'mlflow.db'}")
    mlflow.set_experiment("vision/digits")
    with mlflow.start_run(run_name="digits-mlp"):
        mlflow.log_params(flat({k: params[k] for k in sections}))
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})


if __name__ == "__main__":
    main()
