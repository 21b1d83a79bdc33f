"""Name the process settings a seeded stage needs before its interpreter starts."""

from __future__ import annotations

import hashlib

from reprospec.spec import Spec

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


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
    return env


def environment_digest(lock_text: str) -> str:
    """Return the digest of the locked environment: its pins and hashes."""
    body = "\n".join(
        line for line in lock_text.splitlines() if not line.lstrip().startswith("#")
    )
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()
