"""The pre-commit hooks run under pre-commit itself; check-seed finds what it should."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import cli, commit
from reprospec import seedcheck
from reprospec.emitters import precommit

LOGREG = "specs/digits_logreg.yaml"
CONFIG = "build/digits-logreg/.pre-commit-config.yaml"


def _pre_commit(project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(home),
    }
    return subprocess.run(
        [str(bin_dir / "pre-commit"), "run", "--config", CONFIG, "--all-files"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_hooks_pass_then_catch_untracked_and_unseeded_code(
    project: Path, tmp_path: Path
) -> None:
    home = tmp_path / "pre-commit-home"
    done = _pre_commit(project, home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("Passed") == 3

    (project / "conf" / "model" / "draft.yaml").write_text("C: 2.0\n")
    done = _pre_commit(project, home)
    assert done.returncode == 1
    assert "no untracked or unstaged experiment files" in done.stdout
    (project / "conf" / "model" / "draft.yaml").unlink()

    module = project / "examples" / "digits_logreg.py"
    module.write_text(module.read_text() + "\nimport random\nrandom.seed(0)\n")
    commit(project)
    done = _pre_commit(project, home)
    assert done.returncode == 1
    assert "random.seed(0) replaces the spec's seed" in done.stdout
    assert "examples/digits_logreg.py:" in done.stdout


def test_check_seed_passes_every_committed_spec(project: Path) -> None:
    for spec in sorted((project / "specs").glob("*.yaml")):
        done = cli(project, "check-seed", f"specs/{spec.name}")
        assert done.returncode == 0, done.stderr


def test_check_seed_exits_4_naming_the_line(project: Path) -> None:
    module = project / "examples" / "digits_logreg.py"
    lines = module.read_text().splitlines()
    module.write_text("\n".join([*lines, "import numpy as np", "np.random.seed(7)"]))
    done = cli(project, "check-seed", LOGREG)
    assert done.returncode == 4
    assert f"examples/digits_logreg.py:{len(lines) + 2}:1:" in done.stderr


SOURCE = """\
import random
import numpy as np
import torch
from numpy.random import default_rng

NOISE = np.random.normal(size=3)


def stage(ctx):
    a = default_rng()
    b = np.random.default_rng(ctx.seed)
    c = torch.Generator().manual_seed(ctx.seed)
    d = torch.Generator()
    torch.manual_seed(123)
    torch.manual_seed(ctx.seed)
    random.Random()
    return random.random()
"""


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (6, "numpy.random.normal() runs when the module is imported"),
        (10, "numpy.random.default_rng() makes a generator seeded from the OS"),
        (13, "torch.Generator() makes a generator seeded from the OS"),
        (14, "torch.manual_seed(123) replaces the spec's seed"),
        (16, "random.Random() makes a generator seeded from the OS"),
    ],
)
def test_check_module_findings(line: int, says: str) -> None:
    findings = seedcheck.check_module(SOURCE, "stage.py")
    assert [f.line for f in findings] == [6, 10, 13, 14, 16]
    assert says in str(next(f for f in findings if f.line == line))


def test_check_entrypoint_refuses_an_early_import() -> None:
    source = "import os\nimport numpy\nfrom reprospec.runtime import run_stage\n"
    findings = seedcheck.check_entrypoint(source + "run_stage()\n", "entrypoint.py")
    assert [str(f) for f in findings] == [
        "entrypoint.py:2:1: imports numpy before run_stage has seeded the process; "
        "regenerate the entry point with reprospec build"
    ]
    assert seedcheck.check_entrypoint("import os\n", "e.py")[0].message.startswith(
        "never calls run_stage"
    )


def test_override_payloads_stay_one_word_in_hook_entries() -> None:
    payload = "+data.note=$(touch /tmp/pwned); `id` 'q' \"d\" \\"
    text = precommit.config(["specs/x.yaml", payload], ["specs/x.yaml"])
    hooks = yaml.safe_load(text)["repos"][0]["hooks"]
    entries = {hook["id"]: shlex.split(hook["entry"]) for hook in hooks}
    assert entries["reprospec-check-seed"] == [
        "reprospec",
        "check-seed",
        "specs/x.yaml",
        payload,
    ]
    assert entries["reprospec-build-check"][-1] == payload
