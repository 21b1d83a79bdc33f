"""Spec values and overrides land in every artifact as inert data, or are refused."""

from __future__ import annotations

import ast
import copy
import re
import shlex
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO
from reprospec import compose
from reprospec.builder import compile_spec
from reprospec.errors import SpecError

PAYLOADS = [
    "$(touch /tmp/pwned)",
    "`touch /tmp/pwned`",
    "x; rm -rf /",
    "line one\nRUN touch /tmp/pwned",
    "${{ github.event.issue.title }}",
    "&anchor *anchor !!python/object/apply:os.system ['id']",
    "trailing continuation \\",
    "'\"quotes\" and \\'escapes'",
    "# not a comment",
    "line\u2028separator: 1",
    "next\x85line: 1",
]
RESTRICTED = [
    ("name",),
    ("team",),
    ("project",),
    ("environment", "python"),
    ("environment", "base_image"),
    ("environment", "cuda"),
    ("environment", "index_url"),
    ("stages", "train", "run"),
    ("stages", "ingest", "outs", 0),
]


@pytest.fixture(scope="module")
def base() -> compose.LoadedSpec:
    return compose.load(str(REPO / "specs" / "digits_mlp.yaml"), [])


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _with(base: compose.LoadedSpec, data: dict[str, Any], overrides: tuple[str, ...]):
    spec = compose.validate(data, base.relpath)
    return replace(base, spec=spec, overrides=overrides)


@pytest.mark.parametrize("path", RESTRICTED, ids=lambda p: ".".join(map(str, p)))
@pytest.mark.parametrize("payload", PAYLOADS)
def test_restricted_fields_refuse_payloads(
    base: compose.LoadedSpec, path: tuple[Any, ...], payload: str
) -> None:
    data = copy.deepcopy(base.spec.resolved())
    _set(data, path, payload)
    with pytest.raises(SpecError, match=re.escape(".".join(map(str, path)))):
        compose.validate(data, base.relpath)


def _scalars(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [*map(str, node), *(s for v in node.values() for s in _scalars(v))]
    if isinstance(node, list):
        return [s for v in node for s in _scalars(v)]
    return [str(node)]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_in_params_and_overrides_stay_inert(
    base: compose.LoadedSpec, payload: str, tmp_path: Path
) -> None:
    data = copy.deepcopy(base.spec.resolved())
    data["data"]["note"] = payload
    data["data"][payload] = 1
    override = f"+data.note={payload}"
    loaded = _with(base, data, (override,))
    files = {k: v.decode() for k, v in compile_spec(loaded).blobs.items()}

    for name in ("dvc.yaml", "params.yaml", "spec.yaml", "environment.yml"):
        parsed = yaml.safe_load(files[name])
        assert all(payload not in s or s == payload for s in _scalars(parsed)), name
    params = yaml.safe_load(files["params.yaml"])
    assert params["data"]["note"] == payload and params["data"][payload] == 1

    workflow = files[".github/workflows/reprospec.yml"]
    values = "\n".join(
        line for line in workflow.splitlines() if not line.lstrip().startswith("#")
    )  # GitHub evaluates expressions in values, never in comments
    expressions = set(re.findall(r"\$\{\{[^}]*\}\}", values))
    assert expressions <= {"${{ github.ref }}", "${{ '${{' }}"}
    steps = yaml.safe_load(workflow)["jobs"]["reproduce"]["steps"]
    run_lines = [s["run"] for s in steps if "reprospec " in s.get("run", "")]
    evaluated = run_lines[0].replace("${{ '${{' }}", "${{")  # what GitHub runs
    assert shlex.split(evaluated) == [
        "reprospec",
        "build",
        "--check",
        "specs/digits_mlp.yaml",
        override,
    ]

    plain = (
        "Dockerfile",
        ".dockerignore",
        ".gitignore",
        "requirements.in",
        "requirements-lock.txt",
        "entrypoint.py",
    )
    for name in plain:
        for line in files[name].splitlines():
            if payload.splitlines()[0] in line:
                assert line.startswith("#"), (name, line)

    tree = ast.parse(files["entrypoint.py"])
    base_tree = ast.parse(compile_spec(base).blobs["entrypoint.py"].decode())
    assert len(tree.body) == len(base_tree.body)

    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(files["Dockerfile"])
    lint = subprocess.run(
        [
            str(Path(REPO, ".venv/bin/hadolint")),
            "--no-fail",
            "-f",
            "json",
            str(dockerfile),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stderr
    assert "DL1000" not in lint.stdout  # hadolint's parse error
