"""Compose a spec with Hydra, apply overrides and validate it into a Spec."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from reprospec import positions, secrets
from reprospec.errors import SpecError, UsageError
from reprospec.project import find_root as find_root
from reprospec.spec import RESERVED_KEYS, Spec

SAFE_PATH = re.compile(r"^[A-Za-z0-9._/-]+$")


@dataclass(frozen=True)
class LoadedSpec:
    """A validated spec together with where it came from."""

    path: Path
    root: Path
    overrides: tuple[str, ...]
    spec: Spec

    @property
    def relpath(self) -> str:
        """Return the spec's path relative to the project root."""
        return self.path.relative_to(self.root).as_posix()


def load(spec_file: str, overrides: Sequence[str]) -> LoadedSpec:
    """Compose, resolve and validate the spec at spec_file with overrides."""
    path = Path(spec_file).resolve()
    if not path.is_file():
        raise UsageError(
            f"{spec_file}: no such spec file; give the path of a YAML spec, "
            "e.g. specs/digits_mlp.yaml"
        )
    if path.suffix != ".yaml":
        raise UsageError(
            f"{spec_file}: a spec file ends in .yaml (Hydra finds no other); rename it"
        )
    root = find_root(path)
    relpath = path.relative_to(root).as_posix()
    if not SAFE_PATH.match(relpath):
        raise UsageError(
            f"{spec_file}: a spec path may hold only letters, digits, '.', '_', "
            "'-' and '/'; rename the file"
        )
    data = _compose(path, relpath, root, list(overrides))
    _refuse_secrets(data, relpath)

    def where(key: tuple[str, ...]) -> str | None:
        return positions.locate(path, root, overrides, key)

    spec = validate(data, relpath, where)
    return LoadedSpec(path=path, root=root, overrides=tuple(overrides), spec=spec)


def _compose(
    path: Path, relpath: str, root: Path, overrides: list[str]
) -> dict[str, Any]:
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    searchpath = [f"hydra.searchpath=['file://{_hydra_quote(str(root / 'conf'))}']"]
    try:
        with initialize_config_dir(config_dir=str(path.parent), version_base=None):
            cfg = compose(config_name=path.stem, overrides=searchpath + overrides)
        data = OmegaConf.to_container(cfg, resolve=True)
    except yaml.MarkedYAMLError as exc:
        raise SpecError(_explain_yaml(root, exc)) from None
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        # Hydra raises a bare ValueError for some malformed overrides (e.g. "=5").
        raise SpecError(_explain_hydra(relpath, overrides, exc)) from None
    if not isinstance(data, dict):
        raise SpecError(f"{relpath}: a spec is a YAML mapping at the top level")
    data.pop("hydra", None)
    return {str(k): v for k, v in data.items()}


def _explain_yaml(root: Path, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = "spec"
    if mark is not None:
        name = Path(mark.name)
        shown = name.relative_to(root) if name.is_relative_to(root) else name
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}"
    problem = " ".join(filter(None, [exc.context, exc.problem]))
    return f"{where}: YAML syntax error: {problem}; fix the YAML at that position"


def _hydra_quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _explain_hydra(relpath: str, overrides: list[str], exc: Exception) -> str:
    message = str(exc).split("Config search path")[0].strip().splitlines()
    detail = " ".join(line.strip() for line in message if line.strip())
    hint = (
        "overrides use Hydra's grammar: key=value to change a key, +key=value "
        "to add one, ~key to delete one, group=option to pick a config group"
    )
    given = f" (overrides: {' '.join(overrides)})" if overrides else ""
    return f"{relpath}: cannot compose the spec{given}: {detail}\n  {hint}"


def _refuse_secrets(data: dict[str, Any], relpath: str) -> None:
    found = list(secrets.find(data))
    if found:
        lines = "\n".join(f"  {key}: {reason}" for key, reason in found)
        raise SpecError(
            f"{relpath}: the spec holds what looks like a secret:\n{lines}\n"
            "  a spec names environment variables (environment.required_env), "
            "never their values; remove the value and read the variable at run time"
        )


def validate(
    data: dict[str, Any],
    source: str,
    where: Callable[[tuple[str, ...]], str | None] | None = None,
) -> Spec:
    """Validate composed data into a Spec, naming each bad key and where it was set."""
    try:
        return Spec.model_validate(data)
    except ValidationError as exc:
        lines = [_explain_error(err, data, where) for err in exc.errors()]
        raise SpecError(f"{source}: invalid spec\n" + "\n".join(lines)) from None


def _explain_error(
    err: Any,
    data: dict[str, Any],
    where: Callable[[tuple[str, ...]], str | None] | None,
) -> str:
    loc = tuple(str(part) for part in err["loc"])
    text = _describe(err, loc, data)
    position = where(loc) if where and loc else None
    return f"{text} (set at {position})" if position else text


def _describe(err: Any, loc: tuple[str, ...], data: dict[str, Any]) -> str:
    key = ".".join(loc) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"  {key}: unknown key{_suggest(loc, data)}"
    if err["type"] == "missing":
        near = [k for k in data if difflib.get_close_matches(k, [loc[-1]], n=1)]
        hint = f"; is {near[0]!r} a misspelling of it?" if loc and near else ""
        return f"  {key}: required key is missing{hint}"
    expected = str(err["msg"]).removeprefix("Value error, ")
    expected = expected.removeprefix("Input should be ")
    unknown = re.match(r"unknown key '([^']+)': (.*)", expected)
    if unknown:
        name = unknown.group(1)
        return f"  {name}: unknown key ({unknown.group(2)}){_suggest((name,), data)}"
    if "pattern" in (err.get("ctx") or {}):
        expected = f"a string matching {err['ctx']['pattern']}"
    if not loc:
        return f"  {expected}"
    return f"  {key}: got {_short(err.get('input'))}; expected {expected}"


def _suggest(loc: tuple[str, ...], data: dict[str, Any]) -> str:
    model: type[BaseModel] | None = Spec
    for part in loc[:-1]:
        field = model.model_fields.get(part) if model else None
        annotation = field.annotation if field else None
        model = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
    names = set(model.model_fields) if model else set()
    if len(loc) == 1:
        names |= set(RESERVED_KEYS)
    close = difflib.get_close_matches(loc[-1], sorted(names), n=1)
    return f"; did you mean {close[0]!r}?" if close else "; remove it"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
