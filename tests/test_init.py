"""`reprospec init`: a new project whose starter spec builds, checks and runs."""

from __future__ import annotations

from pathlib import Path

from conftest import cli, commit, git


def test_init_scaffolds_a_project_that_runs(tmp_path: Path) -> None:
    done = cli(tmp_path, "init", "starter", "--name", "starter")
    assert done.returncode == 0, done.stderr
    root = tmp_path / "starter"
    for path in (
        "specs/starter.yaml",
        "conf/data/synthetic.yaml",
        "conf/model/ridge.yaml",
        "starter/data.py",
        "starter/features.py",
        "starter/models.py",
        "starter/training.py",
        "starter/evaluation.py",
        ".gitignore",
        ".dvcignore",
        ".pre-commit-config.yaml",
    ):
        assert (root / path).is_file(), path
    git(root, "init", "-q")
    commit(root, "scaffold")

    assert cli(root, "check-seed", "specs/starter.yaml").returncode == 4  # unbuilt
    built = cli(root, "build", "specs/starter.yaml")
    assert built.returncode == 0, built.stderr
    assert cli(root, "check-seed", "specs/starter.yaml").returncode == 0
    commit(root, "bundle")
    ran = cli(root, "run", "specs/starter.yaml")
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "accuracy = " in ran.stdout


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("mine\n")
    done = cli(tmp_path, "init", ".", "--name", "x")
    assert done.returncode == 2
    assert ".gitignore" in done.stderr
    assert (tmp_path / ".gitignore").read_text() == "mine\n"
    assert not (tmp_path / "specs").exists()
