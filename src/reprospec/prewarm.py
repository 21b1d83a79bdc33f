"""Import what a run's bookkeeping needs while its stages run.

The parent process waits on `dvc repro` for most of a run, with a core to
spare, since stages are pinned to their thread count. Loading MLflow (and
matplotlib for the card) then, rather than after the stages, takes seconds off
every run. torch is not among them: .pt outputs are digested without it.
"""

from __future__ import annotations

import contextlib
import importlib
import threading

from reprospec.spec import Spec

MLFLOW = (
    "mlflow.exceptions",
    "mlflow.entities",
    "mlflow.tracking",
    "mlflow.store.tracking.sqlalchemy_store",
)


def modules(spec: Spec) -> list[str]:
    """Return the modules the run will import once its stages are done."""
    stages = [stage for _, stage in spec.stages.ordered()]
    wanted = list(MLFLOW)
    if any(stage.plots for stage in stages):
        wanted.append("matplotlib.pyplot")
    return wanted


def start(names: list[str]) -> threading.Thread:
    """Import names in a background thread; join it before importing anything else.

    Joining first keeps two threads from importing at once, which could
    deadlock on module locks. A module that fails to import is left for the
    real import to report.
    """

    def load() -> None:
        for name in names:
            if name.startswith("matplotlib"):
                with contextlib.suppress(Exception):
                    # The card renders without a display; choose before pyplot.
                    importlib.import_module("matplotlib").use("Agg")
            with contextlib.suppress(Exception):
                importlib.import_module(name)

    thread = threading.Thread(target=load, name="reprospec-prewarm", daemon=True)
    thread.start()
    return thread
