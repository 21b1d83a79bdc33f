"""Save a stage's trained model in MLflow's format, inside the bundle.

Runs in the stage process, which imports MLflow only here: a stage that saves
no model never pays for it. `reprospec run` logs and registers the folder.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import inspect
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reprospec.errors import ModelNotSaved

MODEL_FILE = "MLmodel"  # what marks a folder out as a saved model
ENVIRONMENT = Path("conda.yaml")  # the bundle's, beside the stage's working folder
LOCK = Path("requirements-lock.txt")
_PINS_MLFLOW = re.compile(r"^mlflow==", re.M)


def is_model(folder: Path) -> bool:
    """Return whether folder holds a model saved in MLflow's format."""
    return (folder / MODEL_FILE).is_file()


def save(
    model: Any, target: Path, *, flavor: str, code: Sequence[Path], **options: Any
) -> Path:
    """Save model into target with mlflow.FLAVOR, the bundle's environment and code."""
    check_environment()
    save_model = _flavor(flavor)
    if target.exists():
        shutil.rmtree(target)
    arguments: dict[str, Any] = {"conda_env": str(ENVIRONMENT), **options}
    if code and "code_paths" in inspect.signature(save_model).parameters:
        arguments["code_paths"] = [str(path) for path in code]
    # MLflow prints notices on stdout; DVC shows the stage's stderr alike.
    with contextlib.redirect_stdout(sys.stderr):
        save_model(model, str(target), **arguments)
    return target


def check_environment() -> None:
    """Refuse unless the bundle's environment, which the model carries, has MLflow."""
    if not (ENVIRONMENT.is_file() and LOCK.is_file()):
        raise ModelNotSaved(
            f"no {ENVIRONMENT} and {LOCK} in {Path.cwd()}: save_model runs in a "
            "stage started from a bundle (`reprospec run` or entrypoint.py)"
        )
    if not _PINS_MLFLOW.search(LOCK.read_text()):
        raise ModelNotSaved(
            f"the bundle's {LOCK} does not pin mlflow, so the saved model could not "
            "be loaded in its own environment; add "
            f"'mlflow=={_installed('mlflow')}' to environment.requirements in the spec"
        )


def _flavor(flavor: str) -> Any:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", flavor):
        raise ModelNotSaved(f"{flavor!r} is not an MLflow flavour name")
    try:
        module = importlib.import_module(f"mlflow.{flavor}")
    except ModuleNotFoundError as exc:
        if exc.name == "mlflow":
            raise ModelNotSaved(
                "mlflow is not installed in the stage's environment; add it to "
                "environment.requirements in the spec"
            ) from None
        if exc.name != f"mlflow.{flavor}":
            raise  # e.g. the framework fence: its message says what to do
        module = None
    save_model = getattr(module, "save_model", None)
    if save_model is None:
        raise ModelNotSaved(
            f"MLflow has no flavour {flavor!r} that saves models; use the "
            "framework's own, e.g. 'pytorch', 'tensorflow' or 'sklearn'"
        )
    return save_model


def _installed(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "VERSION"
