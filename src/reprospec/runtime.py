"""Seed a stage process and run its callable: the code inside every stage.

This module runs in each stage's own interpreter, so it imports neither Hydra
nor the emitters. The spec's framework is set up the moment the stage imports
it, so a stage that never uses it does not pay seconds to load it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import random
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from reprospec.errors import (
    DeterminismNotApplied,
    ReducedPrecisionRefused,
    ReprospecError,
    SeedNotSetError,
)

FRAMEWORKS = ("torch", "tensorflow")
_SEED: int | None = None
_WORKER_RNG: Any = None


def set_global_seed(seed: int, framework: str = "numpy") -> None:
    """Seed random, NumPy and, when named, torch or TensorFlow."""
    global _SEED
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    _seed_framework(seed, framework)
    _SEED = seed


def _seed_framework(seed: int, framework: str) -> None:
    if framework == "torch":
        import torch

        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
    elif framework == "tensorflow":
        import numpy as np
        import tensorflow as tf

        # Keras' helper reseeds random and NumPy as well: keep the streams the
        # stage may have drawn from before it imported TensorFlow.
        kept = random.getstate(), np.random.get_state()
        tf.keras.utils.set_random_seed(seed)
        random.setstate(kept[0])
        np.random.set_state(kept[1])


def current_seed() -> int:
    """Return the run's seed; raise SeedNotSetError outside a seeded stage."""
    if _SEED is None:
        raise SeedNotSetError(
            "stage code asked for the seed before reprospec seeded the process; "
            "run stages through the bundle's entrypoint.py or `reprospec run`"
        )
    return _SEED


def derived_seed(*keys: int) -> int:
    """Return a 64-bit seed drawn from the run's seed and keys, the same every run."""
    import numpy as np

    sequence = np.random.SeedSequence([current_seed(), *keys])
    return int(sequence.generate_state(1, np.uint64)[0])


def torch_generator(stream: int = 0) -> Any:
    """Return a torch.Generator seeded from the run's seed and a stream number.

    Give it to a DataLoader (with worker_init_fn) so that its shuffling and its
    workers' seeds repeat exactly from run to run.
    """
    import torch

    return torch.Generator().manual_seed(derived_seed(stream))


def worker_init_fn(worker_id: int) -> None:
    """Seed random, NumPy and torch in a DataLoader worker from its own seed.

    The seed is torch's per-worker seed, drawn from the loader's generator plus
    the worker's index: distinct between workers, repeated between runs when
    the generator comes from torch_generator(). A stage's ctx.rng is copied
    into every worker in the same state, so workers draw from worker_rng().
    """
    global _WORKER_RNG
    import numpy as np
    import torch

    info = torch.utils.data.get_worker_info()
    if info is None:
        raise ReprospecError(
            "worker_init_fn runs inside DataLoader workers only; pass it as "
            "DataLoader(..., worker_init_fn=worker_init_fn)"
        )
    seed = int(info.seed)
    random.seed(seed)
    np.random.seed(np.random.SeedSequence(seed).generate_state(4))
    torch.manual_seed(seed)
    _WORKER_RNG = np.random.default_rng(seed)


def worker_rng() -> Any:
    """Return this DataLoader worker's NumPy Generator, seeded by worker_init_fn."""
    if _WORKER_RNG is None:
        raise SeedNotSetError(
            "worker_rng() needs a DataLoader worker started with "
            "worker_init_fn=reprospec.runtime.worker_init_fn"
        )
    return _WORKER_RNG


def framework_switches(framework: str, threads: int, strict: bool) -> dict[str, str]:
    """Return the thread counts and switches the runtime sets, as text by name."""
    on, off, count = "true", "false", str(threads)
    if framework == "torch":
        return {
            "torch.num_threads": count,
            "torch.num_interop_threads": count,
            "torch.use_deterministic_algorithms": on if strict else off,
            "torch.backends.cudnn.deterministic": on,
            "torch.backends.cudnn.benchmark": off,
            "torch.backends.cuda.matmul.allow_tf32": off,
            "torch.backends.cudnn.allow_tf32": off,
        }
    if framework == "tensorflow":
        return {
            "tensorflow.intra_op_parallelism_threads": count,
            "tensorflow.inter_op_parallelism_threads": count,
            "tensorflow.op_determinism": on if strict else off,
            "tensorflow.tensor_float_32_execution": off,
        }
    return {}


def applied_switches(framework: str) -> dict[str, str]:
    """Return the values the framework reports for the switches the runtime sets."""
    if framework == "torch":
        import torch

        backends = torch.backends
        values: dict[str, object] = {
            "torch.num_threads": torch.get_num_threads(),
            "torch.num_interop_threads": torch.get_num_interop_threads(),
            "torch.use_deterministic_algorithms": (
                torch.are_deterministic_algorithms_enabled()
            ),
            "torch.backends.cudnn.deterministic": backends.cudnn.deterministic,
            "torch.backends.cudnn.benchmark": backends.cudnn.benchmark,
            "torch.backends.cuda.matmul.allow_tf32": backends.cuda.matmul.allow_tf32,
            "torch.backends.cudnn.allow_tf32": backends.cudnn.allow_tf32,
        }
    elif framework == "tensorflow":
        import tensorflow as tf
        from tensorflow.python.framework import config

        threading = tf.config.threading
        values = {
            "tensorflow.intra_op_parallelism_threads": (
                threading.get_intra_op_parallelism_threads()
            ),
            "tensorflow.inter_op_parallelism_threads": (
                threading.get_inter_op_parallelism_threads()
            ),
            "tensorflow.op_determinism": config.is_op_determinism_enabled(),
            "tensorflow.tensor_float_32_execution": (
                tf.config.experimental.tensor_float_32_execution_enabled()
            ),
        }
    else:
        values = {}
    return {key: str(v).lower() for key, v in values.items()}


def _pin_threads(threads: int, framework: str, strict: bool) -> None:
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        if torch.get_num_interop_threads() != threads:
            # Refused once inter-op work has run; the check below names it.
            with contextlib.suppress(RuntimeError):
                torch.set_num_interop_threads(threads)
        torch.use_deterministic_algorithms(strict)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        if strict:
            _refuse_autocast()
    elif framework == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.config.experimental.enable_tensor_float_32_execution(False)
        if strict:
            tf.config.experimental.enable_op_determinism()


REDUCED_PRECISION = (
    "determinism.strict: true refuses TF32 and mixed precision (float16 or "
    "bfloat16 compute), whose kernels and results differ from one device to "
    "another"
)


def _refuse_autocast() -> None:
    """Make entering an enabled torch.autocast fail, saying why and what to do."""
    import torch

    autocast = torch.amp.autocast_mode.autocast
    enter: Any = autocast.__enter__
    if getattr(enter, "refuses_mixed_precision", False):
        return

    def refusing(self: Any) -> Any:
        entered = enter(self)
        if torch.is_autocast_enabled(self.device):
            self.__exit__(None, None, None)
            raise ReducedPrecisionRefused(
                f"torch.autocast({self.device!r}) turns on mixed precision: "
                f"{REDUCED_PRECISION}; leave autocast out, or set "
                "determinism.strict: false in the spec"
            )
        return entered

    refusing.refuses_mixed_precision = True  # type: ignore[attr-defined]
    autocast.__enter__ = refusing  # type: ignore[method-assign]


def check_still_strict(framework: str, threads: int) -> None:
    """Raise ReducedPrecisionRefused if stage code undid a strict setting.

    Switches such as torch.set_float32_matmul_precision("high") or a Keras
    mixed-precision policy persist, so reading them back after the stage finds
    them; an autocast block refuses as it is entered.
    """
    changed = []
    if framework in FRAMEWORKS and framework in sys.modules:
        expected = framework_switches(framework, threads, strict=True)
        applied = applied_switches(framework)
        changed = [
            f"{key}: set to {value}, now {applied.get(key)}"
            for key, value in expected.items()
            if applied.get(key) != value
        ]
    keras = sys.modules.get("keras") if framework == "tensorflow" else None
    if keras is not None:
        policy = keras.mixed_precision.global_policy().name
        if policy != "float32":
            changed.append(f"Keras global dtype policy: {policy}, not float32")
    if changed:
        raise ReducedPrecisionRefused(
            "the stage changed these determinism settings while it ran:\n  "
            + "\n  ".join(changed)
            + "\n  a strict run keeps every switch as reprospec set it, and "
            + REDUCED_PRECISION
            + "; remove the call that changes them (e.g. "
            "torch.set_float32_matmul_precision or "
            "keras.mixed_precision.set_global_policy), or set "
            "determinism.strict: false in the spec"
        )


def check_switches(framework: str, threads: int, strict: bool) -> None:
    """Raise DeterminismNotApplied unless every switch reads as the runtime set it."""
    expected = framework_switches(framework, threads, strict)
    applied = applied_switches(framework)
    wrong = [
        f"{key}: wanted {value}, the framework reports {applied.get(key)}"
        for key, value in expected.items()
        if applied.get(key) != value
    ]
    if wrong:
        raise DeterminismNotApplied(
            "these settings did not take effect in the stage process:\n  "
            + "\n  ".join(wrong)
            + "\n  something ran framework code before reprospec seeded the stage; "
            "start it through the bundle's entrypoint.py"
        )


HASH_PROBE = "reprospec: is hash randomisation fixed?"


def check_hash_seed(expected: str) -> None:
    """Raise DeterminismNotApplied unless str hashes follow PYTHONHASHSEED=expected.

    The variable counts only when the interpreter starts, so a fresh interpreter
    started with it must hash a probe string exactly as this one does.
    """
    probe = subprocess.run(
        [sys.executable, "-S", "-c", f"print(hash({HASH_PROBE!r}))"],
        env={"PYTHONHASHSEED": expected},
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0 or probe.stdout.strip() != str(hash(HASH_PROBE)):
        raise DeterminismNotApplied(
            f"this interpreter does not hash as PYTHONHASHSEED={expected} would: "
            "the variable was set after it started, so set and dict order of "
            "strings changes from run to run; start the stage through the "
            "bundle's entrypoint.py, which sets it before Python starts"
        )


class _Refused(importlib.abc.Loader):
    """Fail the import of a framework the spec does not name, saying why."""

    def __init__(self, framework: str) -> None:
        self.framework = framework

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        top = spec.name.partition(".")[0]
        raise ModuleNotFoundError(
            f"reprospec: the spec's environment.framework is {self.framework!r}, "
            f"so {top!r} would run unseeded and with its own threads; set "
            f"environment.framework to {top!r} or leave {top!r} out",
            name=spec.name,
        )

    def exec_module(self, module: ModuleType) -> None:
        raise AssertionError("create_module always refuses")


class _FrameworkFence(importlib.abc.MetaPathFinder):
    """Answer for the frameworks the spec does not name with a refusing loader.

    A probe such as importlib.util.find_spec still gets an answer (a spec with
    no origin), so libraries that only look for a framework carry on.
    """

    def __init__(self, framework: str) -> None:
        self.framework = framework
        self.blocked = frozenset(f for f in FRAMEWORKS if f != framework)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self.blocked:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Refused(self.framework))


def block_other_frameworks(framework: str) -> None:
    """Make importing a framework the spec does not name fail, and say why."""
    fence = _FrameworkFence(framework)
    loaded = sorted(fence.blocked & set(sys.modules))
    if loaded:
        raise DeterminismNotApplied(
            f"{', '.join(loaded)} was imported before the stage started, but the "
            f"spec's environment.framework is {framework!r}"
        )
    sys.meta_path.insert(0, fence)


def _check_launch(launch_env: Mapping[str, str]) -> None:
    wrong = {
        k: os.environ.get(k) for k, v in launch_env.items() if os.environ.get(k) != v
    }
    if wrong:
        raise SeedNotSetError(
            f"the stage interpreter started without {sorted(wrong)} set as the "
            "spec requires; start it through the bundle's entrypoint.py"
        )


@dataclass(frozen=True)
class StageContext:
    """What a stage callable receives: its params, paths and seeded generator."""

    name: str
    seed: int
    params: Mapping[str, Any]
    deps: tuple[Path, ...]
    outs: tuple[Path, ...]
    metrics: tuple[Path, ...]
    rng: Any = field(repr=False)
    plots: tuple[Path, ...] = ()
    code: tuple[Path, ...] = ()  # the stage's source, saved with its model

    def save_model(self, model: Any, path: str, *, flavor: str, **options: Any) -> Path:
        """Save model with MLflow's flavour into a declared folder out; return it.

        The folder carries the bundle's conda.yaml as the model's environment
        and the stage's source as its code; `reprospec run` logs and registers
        it. options go to mlflow.FLAVOR.save_model, e.g. input_example.
        """
        from reprospec import model as saved

        target = self.out(path)
        return saved.save(model, target, flavor=flavor, code=self.code, **options)

    def out(self, path: str) -> Path:
        """Return a declared output's path, with its folder created."""
        declared = self.outs + self.metrics + self.plots
        return self._declared(path, declared, "outs, metrics or plots")

    def dep(self, path: str) -> Path:
        """Return a declared dependency's path."""
        return self._declared(path, self.deps, "deps")

    def _declared(self, path: str, allowed: tuple[Path, ...], what: str) -> Path:
        target = Path(path)
        if target not in allowed:
            raise ReprospecError(
                f"stage {self.name!r} used {path!r}, which its {what} do not list; "
                "add it to the stage in the spec"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        return target


def prepare_process(
    *,
    seed: int,
    threads: int,
    framework: str,
    strict: bool,
    launch_env: Mapping[str, str],
) -> None:
    """Check the launch, fence off other frameworks, pin threads, seed; verify."""
    _check_launch(launch_env)
    if "PYTHONHASHSEED" in launch_env:
        check_hash_seed(launch_env["PYTHONHASHSEED"])
    block_other_frameworks(framework)
    set_global_seed(seed)

    def set_up() -> None:
        _pin_threads(threads, framework, strict)
        _seed_framework(seed, framework)
        check_switches(framework, threads, strict)

    if framework in FRAMEWORKS and framework not in sys.modules:
        sys.meta_path.insert(0, _SetUpOnImport(framework, set_up))
    else:
        set_up()


class _SetUpOnImport(importlib.abc.MetaPathFinder):
    """Set the framework up right after its first import, before it is used.

    Nothing of the framework runs before its import finishes, so pinning and
    seeding it then gives the state it would have had if set up at start.
    """

    def __init__(self, framework: str, set_up: Callable[[], None]) -> None:
        self.framework = framework
        self.set_up = set_up
        self.finding = False

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.framework or self.finding:
            return None
        self.finding = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.finding = False
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _ThenSetUp(spec.loader, self)
        return spec

    def imported(self) -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        try:
            self.set_up()
        except ReprospecError as exc:
            raise SystemExit(
                f"reprospec: the stage imported {self.framework}, whose settings "
                f"did not take effect: {exc}"
            ) from None


class _ThenSetUp(importlib.abc.Loader):
    """Run the real loader, then the framework's set-up."""

    def __init__(self, loader: Any, hook: _SetUpOnImport) -> None:
        self.loader = loader
        self.hook = hook

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The module keeps its own loader: resource readers and reloads use it.
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        module.__loader__ = self.loader
        self.loader.exec_module(module)
        self.hook.imported()


def run_stage(
    name: str,
    table: Mapping[str, Any],
    *,
    seed: int,
    threads: int,
    framework: str,
    strict: bool,
    launch_env: Mapping[str, str],
) -> None:
    """Seed this process, then import and call the stage's callable."""
    try:
        prepare_process(
            seed=seed,
            threads=threads,
            framework=framework,
            strict=strict,
            launch_env=launch_env,
        )
    except ReprospecError as exc:
        sys.exit(f"reprospec: stage {name!r} refused to start: {exc}")
    import numpy as np

    module_name, _, attr = table["run"].partition(":")
    context = StageContext(
        name=name,
        seed=seed,
        params=_load_params(table["params"], seed),
        deps=tuple(Path(p) for p in table["deps"]),
        outs=tuple(Path(p) for p in table["outs"]),
        metrics=tuple(Path(p) for p in table["metrics"]),
        plots=tuple(Path(p) for p in table.get("plots", ())),
        rng=np.random.default_rng(seed),
        code=_source(module_name),
    )
    function = getattr(importlib.import_module(module_name), attr)
    function(context)
    if strict:
        try:
            check_still_strict(framework, threads)
        except ReprospecError as exc:
            sys.exit(f"reprospec: stage {name!r} refused: {exc}")
    written = (*context.outs, *context.metrics, *context.plots)
    missing = [str(p) for p in written if not p.exists()]
    if missing:
        sys.exit(f"stage {name!r} finished without writing {', '.join(missing)}")


def _source(module_name: str) -> tuple[Path, ...]:
    """Return the files of the stage callable's top-level package or module."""
    found = importlib.util.find_spec(module_name.partition(".")[0])
    if found is None:
        return ()
    if found.submodule_search_locations:
        return tuple(Path(p) for p in found.submodule_search_locations)
    return (Path(found.origin),) if found.has_location and found.origin else ()


def _load_params(refs: list[str], seed: int) -> dict[str, Any]:
    import yaml

    with open("params.yaml") as handle:
        data = yaml.safe_load(handle) or {}
    params: dict[str, Any] = {}
    for ref in refs:
        node: Any = data
        for part in ref.split("."):
            node = node[part]
        params[ref] = node
    params.setdefault("seed", seed)
    return params
