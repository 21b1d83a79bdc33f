"""Invalid specs and overrides exit 2 and name the file, the key and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import build_digits


def test_unknown_key_suggests_the_nearest(project: Path) -> None:
    code, err = build_digits(project, "+determinsm.threads=2")
    assert code == 2
    assert "specs/digits_mlp.yaml: invalid spec" in err
    assert "determinsm: unknown key" in err
    assert "did you mean 'determinism'?" in err


def test_unknown_nested_key_names_its_path(project: Path) -> None:
    code, err = build_digits(project, "+environment.pyton=3.11.7")
    assert code == 2
    assert "environment.pyton: unknown key; did you mean 'python'?" in err


def test_wrong_type_names_key_value_and_expectation(project: Path) -> None:
    code, err = build_digits(project, "seed=forty-two")
    assert code == 2
    assert "seed: got 'forty-two'; expected" in err
    assert "integer" in err


def test_value_out_of_range(project: Path) -> None:
    code, err = build_digits(project, "determinism.threads=0")
    assert code == 2
    assert "determinism.threads: got 0; expected" in err


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("=5", "=5"),
        ("optim.lr=[1,", "optim.lr=[1,"),
        ("optim.lrr=0.1", "optim.lrr"),
        ("model=no_such_model", "no_such_model"),
        ("~environment.nope", "environment.nope"),
    ],
)
def test_malformed_override_exits_2(
    project: Path, override: str, needle: str | None
) -> None:
    code, err = build_digits(project, override)
    assert code == 2
    assert "specs/digits_mlp.yaml" in err
    if needle:
        assert needle in err


def test_bad_requirement_names_the_line(project: Path) -> None:
    code, err = build_digits(project, "environment.requirements=[git+https://x/y.git]")
    assert code == 2
    assert "environment.requirements.0: got 'git+https://x/y.git'" in err
    assert "cannot be hashed" in err


def test_stage_dep_without_producer(project: Path) -> None:
    code, err = build_digits(project, "stages.train.deps=[data/missing.npz]")
    assert code == 2
    assert "stages.train.deps lists 'data/missing.npz'" in err


def test_path_escaping_the_bundle_is_refused(project: Path) -> None:
    code, err = build_digits(project, "stages.ingest.outs=[../../etc/passwd]")
    assert code == 2
    assert "stages.ingest.outs.0: got '../../etc/passwd'" in err


def test_error_in_spec_file_gives_line_and_column(project: Path) -> None:
    spec = project / "specs" / "digits_mlp.yaml"
    spec.write_text(spec.read_text().replace("threads: 1", "threads: many"))
    code, err = build_digits(project)
    assert code == 2
    line = 1 + spec.read_text().splitlines().index("  threads: many")
    assert "determinism.threads: got 'many'; expected a valid integer" in err
    assert f"(set at specs/digits_mlp.yaml:{line}:3)" in err


def test_error_in_config_group_names_the_group_file(project: Path) -> None:
    adam = project / "conf" / "optim" / "adam.yaml"
    adam.write_text(adam.read_text() + "password: hunter2\n")
    code, err = build_digits(project)
    assert code == 2
    assert "optim.password: its key names a secret" in err
    assert "hunter2" not in err


def test_yaml_syntax_error_gives_file_line_and_column(project: Path) -> None:
    mlp = project / "conf" / "model" / "mlp.yaml"
    mlp.write_text("hidden: [128\n")
    code, err = build_digits(project)
    assert code == 2
    assert err.startswith("reprospec: conf/model/mlp.yaml:2:1: YAML syntax error")
