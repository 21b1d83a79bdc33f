"""Name the process settings a seeded stage needs before its interpreter starts."""

from __future__ import annotations

import hashlib

from reprospec.runtime import framework_switches
from reprospec.spec import Spec

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
# Read by TensorFlow when its runtime starts, so they hold even for work that
# runs before the stage's own settings are applied.
TENSORFLOW_THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def launch_env(spec: Spec) -> dict[str, str]:
    """Return the variables the stage interpreter must start with."""
    threads = str(spec.determinism.threads)
    env = {
        "PYTHONHASHSEED": str(spec.seed),
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        **{var: threads for var in THREAD_VARIABLES},
    }
    if spec.environment.framework == "tensorflow":
        env["TF_DETERMINISTIC_OPS"] = "1"
        env["TF_ENABLE_ONEDNN_OPTS"] = "0"
        env.update({var: threads for var in TENSORFLOW_THREAD_VARIABLES})
    return env


def determinism_settings(spec: Spec) -> dict[str, str]:
    """Return every setting a stage runs under: seed, variables, threads, switches.

    Each stage checks these before its code runs and refuses to start otherwise,
    so a run that finished ran under exactly these.
    """
    determinism = spec.determinism
    framework = spec.environment.framework
    return {
        "seed": str(spec.seed),
        "framework": framework,
        "threads": str(determinism.threads),
        "strict": str(determinism.strict).lower(),
        **{f"env.{key}": value for key, value in sorted(launch_env(spec).items())},
        **framework_switches(framework, determinism.threads, determinism.strict),
    }


def environment_digest(lock_text: str) -> str:
    """Return the digest of the locked environment: its pins and hashes."""
    body = "\n".join(
        line for line in lock_text.splitlines() if not line.lstrip().startswith("#")
    )
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()
