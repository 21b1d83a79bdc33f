"""Record a finished run in MLflow: the embedded SQLite store or a server."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from reprospec import secrets
from reprospec.errors import TrackingUnavailable

STATE_DIR = ".reprospec"
KNOWN_SCHEMES = frozenset(
    {"http", "https", "sqlite", "postgresql", "mysql", "mssql", "file", "databricks"}
)
T = TypeVar("T")
KEY_LIMIT = 250
VALUE_LIMIT = 6000
BATCH = 100
_BAD_KEY_CHARS = re.compile(r"[^\w./ -]")


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


def check_reachable(uri: str) -> None:
    """Refuse before any stage runs when the tracking store cannot take the run."""
    if uri.startswith("sqlite:///"):
        _check_sqlite(Path(uri.removeprefix("sqlite:///")).resolve(), uri)
        return
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme.split("+")[0] not in KNOWN_SCHEMES:
        raise TrackingUnavailable(
            f"tracking URI {uri!r}: unknown scheme {scheme!r}; use an MLflow server "
            "(http://HOST:PORT) or a database URI (sqlite:///PATH, postgresql://...)"
        )
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=5):
            return
    except (urllib.error.URLError, OSError) as exc:
        raise TrackingUnavailable(
            f"the MLflow server at {uri} does not answer ({exc}); start it, or "
            "unset tracking.uri and MLFLOW_TRACKING_URI to use the embedded store"
        ) from None


def _check_sqlite(path: Path, uri: str) -> None:
    import sqlite3

    folder = path.parent
    if not (path.exists() or os.access(_existing(folder), os.W_OK)):
        raise TrackingUnavailable(f"tracking store {uri}: {folder} is not writable")
    if not path.exists():
        return
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise TrackingUnavailable(
            f"tracking store {uri} is not a readable SQLite database ({exc}); move "
            "it aside to start a new store, or restore it from a backup"
        ) from None


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def record(
    uri: str, root: Path, run: RunRecord, folders: Mapping[str, Path] | None = None
) -> str:
    """Create the MLflow run with its real start time, log it, return its ID."""
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return _record(uri, root, run, folders)
    except MlflowException as exc:
        raise TrackingUnavailable(
            f"the MLflow store {uri} refused the run: {exc.message}"
        ) from None
    except SQLAlchemyError as exc:
        raise TrackingUnavailable(
            f"the MLflow store {uri} failed while recording the run: {exc}"
        ) from None


def _record(
    uri: str, root: Path, run: RunRecord, folders: Mapping[str, Path] | None
) -> str:
    (root / STATE_DIR).mkdir(exist_ok=True)
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment_id = experiment_id_for(client, uri, root, run.experiment)
    created = client.create_run(
        experiment_id, start_time=run.start_ms, run_name=run.run_name
    )
    run_id: str = created.info.run_id
    params, mapping = sanitize_params(run.params)
    metrics = [Metric(k, v, run.end_ms, 0) for k, v in sorted(run.metrics.items())]
    tags = [RunTag(k, _fit(secrets.redact(v))) for k, v in sorted(run.tags.items())]
    items = [Param(k, v) for k, v in params.items()]
    for chunk in _chunks(items):
        client.log_batch(run_id, params=chunk)
    client.log_batch(run_id, metrics=metrics, tags=tags)
    with tempfile.TemporaryDirectory() as tmp:
        keys = os.path.join(tmp, "param-keys.json")
        with open(keys, "w") as handle:
            json.dump(mapping, handle, indent=2, sort_keys=True)
        client.log_artifact(run_id, keys)
    for path in run.artifacts:
        if path.exists():
            client.log_artifact(run_id, str(path))
    for name, folder in (folders or {}).items():
        if folder.is_dir():
            client.log_artifacts(run_id, str(folder), artifact_path=name)
    # On a server MLflow prints the run's address; stdout carries results only.
    with contextlib.redirect_stdout(sys.stderr):
        client.set_terminated(run_id, status=run.status, end_time=run.end_ms)
    return run_id


def register(
    uri: str, run_id: str, models: Mapping[str, str], tags: Mapping[str, str]
) -> list[str]:
    """Register each model the run logged (artifact path: name); return their URIs.

    Every call adds a new version of each named model, tagged with tags.
    """
    from mlflow.exceptions import MlflowException

    try:
        return _register(uri, run_id, models, tags)
    except MlflowException as exc:
        raise TrackingUnavailable(
            f"the MLflow model registry {uri} refused a model of run {run_id}: "
            f"{exc.message}"
        ) from None


def _register(
    uri: str, run_id: str, models: Mapping[str, str], tags: Mapping[str, str]
) -> list[str]:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    artifacts = client.get_run(run_id).info.artifact_uri
    version_tags = {k: _fit(secrets.redact(v)) for k, v in sorted(tags.items())}
    registered = []
    for path, name in sorted(models.items()):
        try:
            client.create_registered_model(name)
        except MlflowException as exc:
            # Models are registered once and gain a version with every run.
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        with contextlib.redirect_stdout(sys.stderr):
            version = client.create_model_version(
                name, f"{artifacts}/{path}", run_id=run_id, tags=version_tags
            )
        registered.append(f"models:/{name}/{version.version}")
    return registered


def experiment_id_for(client: Any, uri: str, root: Path, name: str) -> str:
    """Return the experiment's ID, creating it unless another process just did."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = f"{artifact_root(root)}/{name}" if uri.startswith("sqlite:") else None
    try:
        return str(client.create_experiment(name, artifact_location=location))
    except MlflowException as exc:
        # Parallel runs (a sweep, a team) race to create a new experiment.
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    found = client.get_experiment_by_name(name)
    if found is None:
        raise RuntimeError(f"MLflow reported experiment {name!r} exists, yet not found")
    return str(found.experiment_id)


def sanitize_params(raw: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Return params MLflow accepts, and the original-to-logged key mapping.

    Keys lose characters MLflow refuses and are cut to its limit; a key that
    would then collide with another gets a suffix from its original's digest.
    Values are redacted, and a value over the limit is logged as its digest.
    """
    logged: dict[str, str] = {}
    mapping: dict[str, str] = {}
    for original in sorted(raw):
        key = _BAD_KEY_CHARS.sub("_", original)[:KEY_LIMIT]
        if key in logged or (key != original and key in raw):
            suffix = "~" + _digest(original)[:8]
            key = key[: KEY_LIMIT - len(suffix)] + suffix
        mapping[original] = key
        logged[key] = _fit(secrets.redact(raw[original]))
    return logged, mapping


def _fit(value: str) -> str:
    if len(value) <= VALUE_LIMIT:
        return value
    return f"sha256:{_digest(value)} (full value in spec.yaml)"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _chunks(items: Sequence[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), BATCH):
        yield list(items[start : start + BATCH])
