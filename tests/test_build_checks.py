"""Build refuses what would only fail at run time, with exit 2 and the key."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from conftest import build_digits, cli
from reprospec import compose, gates

SPEC = "specs/digits_mlp.yaml"


@pytest.mark.parametrize(
    "path", ["dvc.lock", "Dockerfile", "entrypoint.py", "params.yaml"]
)
def test_outputs_may_not_overwrite_generated_files(project: Path, path: str) -> None:
    code, err = build_digits(project, f"stages.train.outs=[models/model.pt,{path}]")
    assert code == 2
    assert f"stages.train.outs.1: '{path}' is a file reprospec or DVC writes" in err


def test_hidden_paths_are_refused(project: Path) -> None:
    code, err = build_digits(project, "stages.train.outs=[models/model.pt,.git/config]")
    assert code == 2
    assert "stages.train.outs.1: got '.git/config'" in err


def test_missing_function_is_refused_at_build(project: Path) -> None:
    code, err = build_digits(project, "stages.train.run=examples.digits:nosuch")
    assert code == 2
    assert "examples/digits.py defines no 'nosuch'" in err


def test_missing_module_is_refused_at_build(project: Path) -> None:
    code, err = build_digits(project, "stages.train.run=examples.nosuch:train")
    assert code == 2
    assert "no module 'examples.nosuch'" in err


def test_unknown_param_reference_is_refused(project: Path) -> None:
    code, err = build_digits(project, "stages.evaluate.params=[model.nope]")
    assert code == 2
    assert "stages.evaluate.params names 'model.nope'" in err


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("gates.accuracy.min=.nan", "gates.accuracy.min"),
        ("+gates.accuracy.max=0.5", "min 0.9 is above max 0.5"),
    ],
)
def test_bad_gate_bounds_are_refused(project: Path, override: str, needle: str) -> None:
    code, err = build_digits(project, override)
    assert code == 2
    assert needle in err


def test_nan_metric_fails_its_gate() -> None:
    spec = compose.load(str(Path(__file__).parents[1] / SPEC), []).spec
    assert gates.failures(spec, {"accuracy": math.nan}, {}) == [
        "accuracy: nan is not a finite number"
    ]


def test_two_specs_with_one_name_do_not_overwrite_each_other(project: Path) -> None:
    shutil.copy(project / SPEC, project / "specs" / "digits_copy.yaml")
    done = cli(project, "build", "specs/digits_copy.yaml")
    assert done.returncode == 2
    assert "name 'digits-mlp' is taken: build/digits-mlp was built from " in done.stderr


def test_yml_suffix_is_refused_with_the_fix(project: Path) -> None:
    shutil.copy(project / SPEC, project / "specs" / "other.yml")
    done = cli(project, "build", "specs/other.yml")
    assert done.returncode == 2
    assert "ends in .yaml" in done.stderr


def test_option_in_requirement_is_refused(project: Path) -> None:
    code, err = build_digits(
        project,
        "environment.requirements=['numpy==2.4.6 ; python_version > \"3\" --pre']",
    )
    assert code == 2
    assert "environment.requirements.0" in err
