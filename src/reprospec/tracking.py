"""Record a finished run in MLflow: the embedded SQLite store or a server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

STATE_DIR = ".reprospec"


@dataclass(frozen=True)
class RunRecord:
    """Everything one run logs, gathered before MLflow is imported."""

    experiment: str
    run_name: str
    start_ms: int
    end_ms: int
    status: str
    params: Mapping[str, str]
    tags: Mapping[str, str]
    metrics: Mapping[str, float]
    artifacts: tuple[Path, ...]


def tracking_uri(root: Path, configured: str | None) -> str:
    """Return the store: the spec's URI, MLFLOW_TRACKING_URI, or embedded SQLite."""
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{(root / STATE_DIR / 'mlflow.db').as_posix()}"


def artifact_root(root: Path) -> str:
    """Return where the embedded store keeps artifacts."""
    return (root / STATE_DIR / "artifacts").as_uri()


def record(uri: str, root: Path, run: RunRecord) -> str:
    """Create the MLflow run with its real start time, log it, return its ID."""
    (root / STATE_DIR).mkdir(exist_ok=True)
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(run.experiment)
    if found is not None:
        experiment_id = found.experiment_id
    elif uri.startswith("sqlite:"):
        experiment_id = client.create_experiment(
            run.experiment, artifact_location=f"{artifact_root(root)}/{run.experiment}"
        )
    else:
        experiment_id = client.create_experiment(run.experiment)
    created = client.create_run(
        experiment_id, start_time=run.start_ms, run_name=run.run_name
    )
    run_id: str = created.info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, run.end_ms, 0) for k, v in sorted(run.metrics.items())],
        params=[Param(k, v) for k, v in sorted(run.params.items())],
        tags=[RunTag(k, v) for k, v in sorted(run.tags.items())],
    )
    for path in run.artifacts:
        if path.exists():
            client.log_artifact(run_id, str(path))
    client.set_terminated(run_id, status=run.status, end_time=run.end_ms)
    return run_id
