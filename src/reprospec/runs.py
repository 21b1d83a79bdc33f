"""Read recorded runs back from MLflow: params, tags, metrics and artifacts."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprospec.compose import find_root
from reprospec.errors import UsageError
from reprospec.runner import QUIET_TOOLS
from reprospec.tracking import check_reachable, tracking_uri


@dataclass
class RecordedRun:
    """One run as the store holds it, with its artifacts read on demand."""

    run_id: str
    status: str
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]
    client: Any = field(repr=False)
    _texts: dict[str, str | None] = field(default_factory=dict, repr=False)

    def artifact(self, path: str) -> str | None:
        """Return a text artifact of the run, or None when it has none."""
        if path not in self._texts:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    local = self.client.download_artifacts(self.run_id, path, tmp)
                    self._texts[path] = Path(local).read_text()
                except Exception:  # MLflow raises several kinds for a missing file
                    self._texts[path] = None
        return self._texts[path]

    def artifact_json(self, path: str) -> Any:
        """Return a JSON artifact of the run, parsed, or None."""
        text = self.artifact(path)
        return json.loads(text) if text else None


def store_uri(uri: str | None = None) -> str:
    """Return the store: the given URI, MLFLOW_TRACKING_URI, or the project's."""
    return uri or tracking_uri(find_root(Path.cwd() / "spec.yaml"), None)


def fetch(run_id: str, uri: str | None = None) -> RecordedRun:
    """Return the run with this ID from the store, or refuse naming the store."""
    os.environ.update(QUIET_TOOLS)
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    resolved = store_uri(uri)
    check_reachable(resolved)
    client = MlflowClient(tracking_uri=resolved)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise UsageError(
            f"no run {run_id!r} in the MLflow store {resolved}; list runs with "
            f"`mlflow ui --backend-store-uri {resolved}` or pass --tracking-uri"
        ) from None
    return RecordedRun(
        run_id=run.info.run_id,
        status=run.info.status,
        params=dict(run.data.params),
        tags={k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
        metrics=dict(run.data.metrics),
        client=client,
    )
