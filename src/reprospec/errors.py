"""Name every refusal: one class per failure, each with its exit code."""

from __future__ import annotations


class ReprospecError(Exception):
    """A failure the user can act on; its message says what to do."""

    exit_code = 2


class UsageError(ReprospecError):
    """The command line itself is wrong."""


class SpecError(ReprospecError):
    """The spec, or an override applied to it, is invalid."""


class LockError(ReprospecError):
    """The requirements could not be resolved into a hashed lock."""


class BundleOutOfDate(ReprospecError):
    """`build --check` found files that differ from what the spec gives."""

    exit_code = 3


class StageFailed(ReprospecError):
    """A stage of the pipeline exited with an error."""

    exit_code = 1


class LauncherFailed(ReprospecError):
    """Hydra's launcher could not start or finish a sweep's jobs."""

    exit_code = 1


class ReproducibilityError(ReprospecError):
    """A run could not be shown to be reproducible."""

    exit_code = 4


class SnapshotMismatch(ReproducibilityError):
    """An output's digest differs from its recorded snapshot."""

    exit_code = 3


class SeedNotSetError(ReproducibilityError):
    """Stage code ran before the runtime seeded the process."""


class DataVersionMismatch(ReproducibilityError):
    """The local data differs from the version the run expects."""


class EnvironmentDrift(ReproducibilityError):
    """The installed packages differ from the lock."""


class DirtyWorkingTree(ReproducibilityError):
    """The git working tree has uncommitted changes."""


class MissingEnvironmentVariable(ReproducibilityError):
    """A variable that the spec requires is not set."""


class DeterminismNotApplied(ReproducibilityError):
    """A thread count, hash seed or framework switch did not take effect."""


class NondeterministicRun(ReproducibilityError):
    """Two runs of the same bundle wrote different outputs."""

    exit_code = 3


class TrackingUnavailable(ReproducibilityError):
    """The MLflow store cannot be reached or refused the run."""


class GateFailed(ReprospecError):
    """A metric crossed the bound that the spec sets for it."""

    exit_code = 5


class ReducedPrecisionRefused(ReproducibilityError):
    """A strict stage used TF32 or mixed precision, or switched determinism off."""


class ModelNotSaved(ReprospecError):
    """A stage's model cannot be saved with an environment that loads it."""
