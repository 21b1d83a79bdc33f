"""Define the experiment spec: the validated, frozen input of every command."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

STAGE_ORDER = ("ingest", "preprocess", "train", "evaluate")
# Keys that judge a run rather than shape it, or say where its data is kept:
# they stay out of the bundle.
VERDICT_KEYS = ("snapshots", "gates", "ci", "ci_snapshots", "dvc_remote")
RESERVED_KEYS = frozenset(
    {
        "spec_version",
        "name",
        "team",
        "project",
        "seed",
        "environment",
        "determinism",
        "stages",
        "snapshots",
        "gates",
        "tracking",
        "ci",
        "ci_snapshots",
        "dvc_remote",
    }
)

Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$"),
    Field(description="lower-case letters, digits, '.', '_' or '-'"),
]
Digest = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]
Callable = Annotated[
    str,
    StringConstraints(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
        r":[A-Za-z_][A-Za-z0-9_]*$"
    ),
]
VarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
PythonVersion = Annotated[str, StringConstraints(pattern=r"^3\.\d{1,2}\.\d{1,3}$")]
CudaVersion = Annotated[str, StringConstraints(pattern=r"^\d{1,2}\.\d{1,2}$")]
Platform = Literal["linux-x86_64", "linux-aarch64", "macos-arm64"]
CondaPlatform = Literal["linux-64", "osx-arm64"]
CondaChannel = Annotated[
    str,
    StringConstraints(pattern=r"^([a-z0-9][a-z0-9._-]*|(https?|file)://[^\s'\"\\]+)$"),
]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s'\"\\]+$")]
ParamRef = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")
]
_REQUIREMENT = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?"
    r"(\s*(===|==|~=|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
    r"(\s*,\s*(==|~=|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+)*)?"
    r"(\s*;\s*[A-Za-z0-9_ .'\"<>=!()-]+)?$"
)


def _check_requirement(line: str) -> str:
    if not _REQUIREMENT.match(line) or " -" in line or "--" in line:
        raise ValueError(f"{line!r}: {_unhashable(line)}")
    return line


def _unhashable(line: str) -> str:
    """Say why a requirement line cannot go into a hashed lock, and what to do."""
    text = line.strip()
    if text.startswith(("-e", "--editable")):
        return (
            "an editable install cannot be hashed into a lock; build and publish "
            "the package, then pin it as NAME==VERSION"
        )
    if text.startswith("-"):
        return (
            "options do not belong in requirements; set package sources with "
            "environment.index_url, extra_index_urls or find_links"
        )
    if "://" in text or text.startswith(("git+", "hg+", "svn+", "bzr+")):
        return (
            "a VCS or direct URL cannot be hashed into a lock; publish a release "
            "to an index (environment.index_url or extra_index_urls) or a "
            "find-links page (environment.find_links) and pin it as NAME==VERSION"
        )
    return (
        "a requirement is a package name with optional extras, version "
        "specifiers and marker, e.g. 'scikit-learn>=1.4'"
    )


def _check_relative_path(path: str) -> str:
    parts = path.split("/")
    bad = (
        not path
        or path.startswith("/")
        or "\\" in path
        or any(p == "" or p.startswith(".") for p in parts)
        or not re.fullmatch(r"[A-Za-z0-9._/-]+", path)
    )
    if bad:
        raise ValueError(
            "a path is relative to the bundle, uses '/', letters, digits, '.', "
            "'_' or '-', and has no empty parts and no part starting with '.'"
        )
    return path


Requirement = Annotated[str, AfterValidator(_check_requirement)]
RelPath = Annotated[str, AfterValidator(_check_relative_path)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Environment(_Strict):
    """Python, framework and packages of the experiment's environment."""

    python: PythonVersion = "3.11.7"
    framework: Literal["torch", "tensorflow", "numpy"]
    requirements: tuple[Requirement, ...] = Field(min_length=1)
    index_url: HttpsUrl | None = None
    extra_index_urls: tuple[HttpsUrl, ...] = ()
    find_links: tuple[HttpsUrl, ...] = ()
    cuda: CudaVersion | None = None
    base_image: str = Field(
        default="mambaorg/micromamba:1.5.0",
        pattern=r"^[a-z0-9./:{}_-]+(@sha256:[0-9a-f]{64})?$",
    )
    required_env: tuple[VarName, ...] = ()
    platforms: tuple[Platform, ...] = Field(default=("linux-x86_64",), min_length=1)
    channels: tuple[CondaChannel, ...] = Field(default=("conda-forge",), min_length=1)
    conda_platforms: tuple[CondaPlatform, ...] = ()  # empty: no conda-lock.yml
    constraints: tuple[RelPath, ...] = ()

    def image(self) -> str:
        """Return the base image reference with the Python version filled in."""
        return self.base_image.replace("{python}", self.python)


class Determinism(_Strict):
    """How strictly a run is held to bit-identical results."""

    threads: int = Field(default=1, ge=1, le=256)
    strict: bool = True


class Stage(_Strict):
    """One step of the pipeline: the callable it runs and the files it touches."""

    run: Callable
    deps: tuple[RelPath, ...] = ()
    outs: tuple[RelPath, ...] = ()
    params: tuple[ParamRef, ...] = ()
    metrics: tuple[RelPath, ...] = ()
    plots: tuple[RelPath, ...] = ()


class Stages(_Strict):
    """The four stages, run in this order."""

    ingest: Stage
    preprocess: Stage
    train: Stage
    evaluate: Stage

    def ordered(self) -> list[tuple[str, Stage]]:
        """Return (name, stage) pairs in pipeline order."""
        return [(name, getattr(self, name)) for name in STAGE_ORDER]


class Snapshots(_Strict):
    """Recorded output digests, metrics and the run they were taken from."""

    from_run: str | None = None
    environment_digest: Digest | None = None
    outputs: dict[RelPath, Digest] = {}
    metrics: dict[str, float] = {}


class Regression(_Strict):
    """How far a metric may fall behind the snapshot's (the blessed run's) value."""

    abs_tol: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    rel_tol: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    higher_is_better: bool = True


class Gate(_Strict):
    """Bounds a metric must stay within, absolute and against the baseline."""

    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)
    regression: Regression | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Gate:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}")
        return self


class CiProfile(_Strict):
    """The overrides `reprospec verify` runs with, e.g. a small data sample."""

    overrides: tuple[str, ...] = ()


class Tracking(_Strict):
    """Where runs are recorded: None means the project's embedded SQLite store."""

    uri: str | None = Field(
        default=None,
        pattern=r"^(https?|sqlite|file|postgresql(\+\w+)?|mysql(\+\w+)?|databricks)"
        r"://[^\s'\"]*$",
        description="an MLflow tracking URI, e.g. http://127.0.0.1:5000",
    )


class DvcRemote(_Strict):
    """The DVC remote that holds the pipeline's data, shared by the team."""

    name: Slug = "storage"
    url: str = Field(
        pattern=r"^[^\s'\"\\-][^\s'\"\\]*$",
        description="a DVC remote URL (s3://..., gs://..., ssh://...) or a folder; "
        "a relative folder is taken from the project root",
    )


class Spec(BaseModel):
    """A validated experiment spec; param sections are the extra top-level maps."""

    model_config = ConfigDict(extra="allow", frozen=True)

    spec_version: Literal[1]
    name: Slug
    team: Slug
    project: Slug
    seed: int = Field(ge=0, le=2**32 - 1)
    environment: Environment
    determinism: Determinism = Determinism()
    stages: Stages
    snapshots: Snapshots = Snapshots()
    gates: dict[str, Gate] = {}
    tracking: Tracking = Tracking()
    ci: CiProfile = CiProfile()
    ci_snapshots: Snapshots = Snapshots()
    dvc_remote: DvcRemote | None = None

    @model_validator(mode="after")
    def _check_graph(self) -> Spec:
        params = self.params()
        for name, value in params.items():
            if not isinstance(value, dict):
                raise ValueError(
                    f"unknown key {name!r}: a top-level key that is not a spec field "
                    "must be a mapping of parameters that some stage lists in "
                    "'params'"
                )
        used = {
            ref.split(".")[0] for _, st in self.stages.ordered() for ref in st.params
        }
        for name in params:
            if name not in used:
                raise ValueError(f"unknown key {name!r}: no stage lists it in 'params'")
        for stage_name, stage in self.stages.ordered():
            for ref in stage.params:
                if ref != "seed" and not _has_path(params, ref.split(".")):
                    raise ValueError(
                        f"stages.{stage_name}.params names {ref!r}, which is not a "
                        "parameter (section) of the spec"
                    )
        self._check_paths()
        return self

    def _check_paths(self) -> None:
        produced: dict[str, str] = {}
        for name, stage in self.stages.ordered():
            for dep in stage.deps:
                if dep not in produced:
                    raise ValueError(
                        f"stages.{name}.deps lists {dep!r}, which no earlier stage "
                        "lists in its outs"
                    )
            for out in (*stage.outs, *stage.metrics, *stage.plots):
                if out in produced:
                    raise ValueError(
                        f"stages.{name} writes {out!r}, which stage "
                        f"{produced[out]!r} already writes"
                    )
                produced[out] = name
        # Each path's first output inside it, found through the path's parents:
        # linear in the number of outputs, not quadratic.
        first_inside: dict[str, str] = {}
        for path in produced:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent in produced:
                    first_inside.setdefault(parent, path)
        for path, writer in produced.items():
            if path in first_inside:
                inside = first_inside[path]
                raise ValueError(
                    f"stages.{writer} writes {path!r}, a folder that holds "
                    f"{inside!r} of stage {produced[inside]!r}; DVC refuses "
                    "overlapping outputs"
                )
        for where, record in (
            ("snapshots", self.snapshots),
            ("ci_snapshots", self.ci_snapshots),
        ):
            outs = {o for _, st in self.stages.ordered() for o in st.outs}
            for out in record.outputs:
                if out not in outs:
                    raise ValueError(
                        f"{where}.outputs lists {out!r}, which is no stage's outs "
                        "(metrics and plots are compared through gates)"
                    )

    def params(self) -> dict[str, Any]:
        """Return the parameter sections (model, optim, data, ...)."""
        return dict(self.__pydantic_extra__ or {})

    def resolved(self) -> dict[str, Any]:
        """Return the spec as plain data, fields first, then parameter sections."""
        data = self.model_dump(mode="json", exclude_none=False)
        return data

    def digest(self) -> str:
        """Return the digest of everything that shapes the bundle.

        Snapshots, gates and the CI profile are verdict data, not build inputs,
        so recording new snapshots leaves the bundle in sync.
        """
        data = self.resolved()
        for verdict_key in VERDICT_KEYS:
            data.pop(verdict_key, None)
        return "sha256:" + hashlib.sha256(canonical_json(data)).hexdigest()

    def stage_params(self) -> dict[str, Any]:
        """Return what params.yaml holds: the seed and every parameter section."""
        return {
            "seed": self.seed,
            **{k: self.params()[k] for k in sorted(self.params())},
        }


def _has_path(node: Any, parts: list[str]) -> bool:
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def canonical_json(data: Any) -> bytes:
    """Serialise data with sorted keys and no whitespace, for digests."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
