"""Sweep a spec with `reprospec run -m` through Hydra's sweeper and launchers.

Hydra expands the overrides (`optim.lr=0.1,0.01 seed=1,2`) into jobs and hands
them to the configured launcher: in this process (basic), local processes
(joblib), a Ray cluster or SLURM (submitit). Each job is a whole reprospec run
of its own bundle, tagged with the sweep's ID; when all are done, one parent
MLflow run per experiment is recorded and every job's run becomes its child.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprospec import __version__, compose, guards, tracking
from reprospec.builder import STATE_DIR, bundle_dir, compile_spec
from reprospec.compose import LoadedSpec
from reprospec.environment import environment_digest
from reprospec.errors import (
    EnvironmentDrift,
    LauncherFailed,
    ReprospecError,
    SpecError,
    UsageError,
)

log = logging.getLogger("reprospec")

SWEEP_TAG = "reprospec.sweep"
PARENT_TAG = "mlflow.parentRunId"
# A sweep exits with the most serious of its jobs' codes, in this order.
SEVERITY = (1, 4, 2, 5, 3)
# Keys a sweep may not vary: every job must share one environment and one store.
FIXED_KEYS = ("environment", "tracking")


@dataclass(frozen=True)
class JobResult:
    """What one job reports back to the sweep (plain data: it crosses processes)."""

    number: int
    overrides: tuple[str, ...]
    code: int
    run_id: str | None
    message: str


@dataclass(frozen=True)
class SweepJob:
    """The task Hydra's launcher runs once per job; picklable for remote workers."""

    spec: str
    sweep_id: str
    environment_digest: str
    force: bool
    allow_dirty: bool
    log_level: int

    def __call__(self, cfg: Any) -> JobResult:
        """Run the job's overrides as a full reprospec run; report, never raise."""
        from hydra.core.global_hydra import GlobalHydra
        from hydra.core.hydra_config import HydraConfig
        from hydra.core.singleton import Singleton

        job = HydraConfig.get().job
        overrides = tuple(str(o) for o in HydraConfig.get().overrides.task)
        _log_in_worker(self.log_level, int(job.num))
        # The job composes its spec as a plain run would, with Hydra's compose
        # API, which needs the launcher's global Hydra state out of the way.
        state = Singleton.get_state()
        on_sigterm = signal.getsignal(signal.SIGTERM)
        GlobalHydra.instance().clear()
        try:
            return self._run(int(job.num), overrides)
        finally:
            Singleton.set_state(state)
            signal.signal(signal.SIGTERM, on_sigterm)

    def _run(self, number: int, overrides: tuple[str, ...]) -> JobResult:
        from reprospec.commands import run as run_command

        log.info("job %d: %s", number, " ".join(overrides))
        run_id = None
        try:
            loaded = compose.load(self.spec, overrides)
            self._check_environment(loaded)
            args = argparse.Namespace(
                spec=self.spec,
                overrides=list(overrides),
                force=self.force,
                allow_dirty=self.allow_dirty,
                run_tags={SWEEP_TAG: self.sweep_id},
            )
            outcome = run_command.execute(loaded, args, loaded.spec.snapshots)
            run_id = outcome.run_id
            run_command.judge(outcome, "")
        except ReprospecError as exc:
            log.error("job %d: %s", number, exc)
            return JobResult(number, overrides, exc.exit_code, run_id, str(exc))
        except Exception as exc:
            log.exception("job %d: internal error", number)
            return JobResult(number, overrides, 1, run_id, f"internal error: {exc!r}")
        return JobResult(number, overrides, 0, run_id, "")

    def _check_environment(self, loaded: LoadedSpec) -> None:
        digest = environment_digest(compile_spec(loaded).lock.text)
        if digest != self.environment_digest:
            raise EnvironmentDrift(
                f"this job's lock has environment digest {digest}, the sweep's is "
                f"{self.environment_digest}; a sweep runs on one environment, so "
                "sweep each environment separately"
            )


@dataclass(frozen=True)
class Sweep:
    """A sweep under way: its spec, its store, its overrides and when it began."""

    base: LoadedSpec
    job: SweepJob
    uri: str
    overrides: tuple[str, ...]
    start_ms: int


def _log_in_worker(level: int, number: int) -> None:
    """Give a worker process (joblib, Ray, SLURM) the CLI's log format."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=level,
            format=f"reprospec[job {number}]: %(message)s",
            stream=sys.stderr,
        )


def run(args: argparse.Namespace) -> int:
    """Sweep the spec over the overrides; return the most serious job's exit code."""
    sweeping, plain = _split(args.overrides)
    base = compose.load(args.spec, plain)
    if not args.allow_dirty:
        guards.check_clean(base.root, _run_state(base), base.relpath)
    guards.check_variables(base.spec.environment.required_env, base.relpath)
    compiled = compile_spec(base)
    lock = compiled.lock
    lock_path = compiled.path.relative_to(base.root) / "requirements-lock.txt"
    guards.check_environment(lock.text, lock_path.as_posix())
    uri = tracking.tracking_uri(base.root, base.spec.tracking.uri)
    _open_store(uri, base.root)
    job = SweepJob(
        spec=str(base.path),
        sweep_id=uuid.uuid4().hex,
        environment_digest=environment_digest(lock.text),
        force=args.force,
        allow_dirty=args.allow_dirty,
        log_level=logging.getLogger().getEffectiveLevel(),
    )
    sweep = Sweep(base, job, uri, tuple(args.overrides), time.time_ns() // 1_000_000)
    results, launcher = _launch(base, job, [*plain, *sweeping])
    parents = _record_parents(sweep, results, launcher)
    _report(parents, results)
    return _exit_code(results)


def _run_state(base: LoadedSpec) -> list[str]:
    """Return what earlier runs wrote into the bundle: not a change to refuse."""
    bundle = bundle_dir(base).relative_to(base.root).as_posix()
    metrics = [m for _, stage in base.spec.stages.ordered() for m in stage.metrics]
    return [f"{bundle}/dvc.lock", *(f"{bundle}/{m}" for m in metrics)]


def _split(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """Return (sweep and Hydra overrides, plain overrides); refuse fixed keys."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        raise SpecError(f"cannot parse the sweep overrides: {exc}") from None
    sweeping: list[str] = []
    plain: list[str] = []
    for override in parsed:
        text = override.input_line or ""
        key = override.get_key_element().lstrip("+~")
        if override.is_sweep_override() and key.split(".")[0] in FIXED_KEYS:
            raise UsageError(
                f"{text}: a sweep runs on one environment and one tracking store; "
                f"run one sweep per value of {key}"
            )
        is_hydra = override.is_hydra_override()
        (sweeping if override.is_sweep_override() or is_hydra else plain).append(text)
    return sweeping, plain


def _open_store(uri: str, root: Path) -> None:
    """Create the store before the jobs do, so they never race to create it."""
    from mlflow.tracking import MlflowClient

    tracking.check_reachable(uri)
    (root / STATE_DIR).mkdir(exist_ok=True)
    MlflowClient(tracking_uri=uri).search_experiments(max_results=1)


def _launch(
    base: LoadedSpec, job: SweepJob, overrides: list[str]
) -> tuple[list[JobResult], str]:
    """Run every job through Hydra's sweeper and launcher; return their results."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    folder = base.root / STATE_DIR / "sweeps" / base.spec.name / job.sweep_id
    settings = [
        f"hydra.searchpath=[{_quote('file://' + str(base.root / 'conf'))}]",
        f"hydra.sweep.dir={_quote(str(folder))}",
        "hydra.sweep.subdir=${hydra.job.num}",
        "hydra.job.chdir=false",
        "hydra/job_logging=none",
        "hydra/hydra_logging=none",
    ]
    log.info("sweep %s: jobs in %s", job.sweep_id, folder)
    try:
        with initialize_config_dir(
            config_dir=str(base.path.parent), job_name=base.spec.name, version_base=None
        ):
            hydra = GlobalHydra.instance().hydra
            assert hydra is not None
            batches = hydra.multirun(
                config_name=base.path.stem,
                task_function=job,
                overrides=[*settings, *overrides],
                with_log_configuration=False,
            )
    except (HydraException, OmegaConfBaseException) as exc:
        raise SpecError(f"{base.relpath}: cannot sweep: {exc}") from None
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        # The launcher plugin or its engine (Ray, SLURM) refused; name which.
        raise LauncherFailed(
            f"Hydra's launcher failed before the jobs finished: "
            f"{type(exc).__name__}: {exc}; the sweep's files are in {folder}"
        ) from None
    returns = [ret for batch in batches for ret in batch]
    launcher = str(returns[0].hydra_cfg.hydra.launcher._target_) if returns else ""
    return [ret.return_value for ret in returns], launcher


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _record_parents(
    sweep: Sweep, results: list[JobResult], launcher: str
) -> dict[str, str]:
    """Record one parent run per experiment the jobs' runs landed in; link them."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=sweep.uri)
    ids = [e.experiment_id for e in client.search_experiments(max_results=50000)]
    children = client.search_runs(
        ids,
        filter_string=f"tags.`{SWEEP_TAG}` = '{sweep.job.sweep_id}'",
        max_results=50000,
    )
    by_experiment: dict[str, list[str]] = {}
    for child in children:
        by_experiment.setdefault(child.info.experiment_id, []).append(child.info.run_id)
    parents = {}
    for experiment_id, runs in sorted(by_experiment.items()):
        name = client.get_experiment(experiment_id).name
        parent = _record_parent(sweep, results, launcher, name)
        for run_id in runs:
            client.set_tag(run_id, PARENT_TAG, parent)
        parents[parent] = name
    return parents


def _record_parent(
    sweep: Sweep, results: list[JobResult], launcher: str, experiment: str
) -> str:
    base, job = sweep.base, sweep.job
    failed = [r for r in results if r.code not in (0, 3, 5)]
    commit = (guards.git(base.root, "rev-parse", "HEAD") or "none").strip()
    tags = {
        SWEEP_TAG: job.sweep_id,
        "spec": base.relpath,
        "spec_digest": base.spec.digest(),
        "environment_digest": job.environment_digest,
        "git_commit": commit,
        "launcher": launcher,
        "reprospec_version": __version__,
    }
    summary = [
        {"job": r.number, "overrides": list(r.overrides), "exit_code": r.code}
        | {"run_id": r.run_id, "message": r.message}
        for r in sorted(results, key=lambda r: r.number)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        jobs_file = Path(tmp, "sweep.json")
        jobs_file.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        return tracking.record(
            sweep.uri,
            base.root,
            tracking.RunRecord(
                experiment=experiment,
                run_name=f"{base.spec.name}-sweep",
                start_ms=sweep.start_ms,
                end_ms=time.time_ns() // 1_000_000,
                status="FAILED" if failed else "FINISHED",
                params={"overrides": json.dumps(list(sweep.overrides))},
                tags=tags,
                metrics={"jobs": len(results), "jobs_failed": len(failed)},
                artifacts=(jobs_file,),
            ),
        )


def _report(parents: dict[str, str], results: list[JobResult]) -> None:
    for parent, experiment in parents.items():
        print(f"sweep {parent}  ({experiment})")
    for result in sorted(results, key=lambda r: r.number):
        shown = result.run_id or "(no run)"
        overrides = " ".join(result.overrides)
        print(f"  job {result.number}  exit {result.code}  {shown}  {overrides}")


def _exit_code(results: list[JobResult]) -> int:
    codes = {r.code for r in results} - {0}
    for code in SEVERITY:
        if code in codes:
            return code
    return max(codes, default=0)
