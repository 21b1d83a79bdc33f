"""The no-op build: skipped before Hydra only while every input still matches."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reprospec import build_record
from reprospec.cli import main

SPEC = "specs/digits_mlp.yaml"
BUNDLE = "build/digits-mlp"


def _build(project: Path, *overrides: str) -> None:
    assert main(["build", str(project / SPEC), *overrides]) == 0


def _fresh(project: Path, *overrides: str) -> str | None:
    return build_record.up_to_date(str(project / SPEC), list(overrides))


def test_noop_rebuild_imports_neither_hydra_nor_pydantic(project: Path) -> None:
    _build(project)
    probe = (
        "import sys\n"
        "from reprospec.cli import main\n"
        f"code = main(['build', {SPEC!r}])\n"
        "heavy = [m for m in ('hydra', 'pydantic', 'jinja2') if m in sys.modules]\n"
        "print(code, heavy)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == [f"{BUNDLE}: up to date", "0 []"]


def _append(relpath: str, text: str) -> Callable[[Path], None]:
    def change(project: Path) -> None:
        path = project / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(text)

    return change


CHANGES = {
    "spec comment": _append(SPEC, "# a comment changes no key\n"),
    "spec value": _append(SPEC, "tracking: {uri: null}\n"),
    "conf option in use": _append("conf/optim/adam.yaml", "lr: 0.002\n"),
    "new conf option": _append("conf/optim/rmsprop.yaml", "name: rmsprop\n"),
    "constraint file": _append("requirements/dev-lock.txt", "numpy==2.4.6\n"),
    "stage code": _append("examples/digits.py", "\n"),
    "stage package file removed": lambda project: (
        project / "examples/__init__.py"
    ).unlink(),
    "bundle edited by hand": _append(f"{BUNDLE}/Dockerfile", "# by hand\n"),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_any_changed_input_falls_through_to_the_full_build(
    project: Path, change: Callable[[Path], None]
) -> None:
    _build(project)
    assert _fresh(project) == BUNDLE
    change(project)
    assert _fresh(project) is None


def test_the_full_build_renews_the_record(project: Path) -> None:
    _build(project)
    _append(f"{BUNDLE}/Dockerfile", "# by hand\n")(project)
    _build(project)
    assert _fresh(project) == BUNDLE


def test_each_set_of_overrides_has_its_own_record(project: Path) -> None:
    _build(project, "optim.lr=0.5")
    assert _fresh(project, "optim.lr=0.5") is not None
    assert _fresh(project, "optim.lr=0.25") is None
    assert _fresh(project) is None


def test_a_deleted_bundle_is_built_again(project: Path) -> None:
    _build(project, "optim.lr=0.5")
    bundle = _fresh(project, "optim.lr=0.5")
    assert bundle is not None
    (project / bundle / "dvc.yaml").unlink()
    assert _fresh(project, "optim.lr=0.5") is None


def test_another_reprospec_version_falls_through(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build(project)
    monkeypatch.setattr(build_record, "__version__", "99.0.0")
    assert _fresh(project) is None


def test_a_changed_package_set_falls_through(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site-packages"
    (site / "numpy-2.4.6.dist-info").mkdir(parents=True)
    paths = {"purelib": str(site), "platlib": str(site)}
    monkeypatch.setattr(build_record.sysconfig, "get_paths", lambda: paths)
    _build(project)
    assert _fresh(project) == BUNDLE
    (site / "numpy-2.4.6.dist-info").rename(site / "numpy-2.5.0.dist-info")
    assert _fresh(project) is None


def test_a_resolver_reading_outside_the_files_disables_the_shortcut(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_TEAM", "vision")
    spec = project / SPEC
    spec.write_text(
        spec.read_text().replace("team: vision", "team: ${oc.env:BENCH_TEAM}")
    )
    _build(project)
    assert _fresh(project) is None
    assert not (project / build_record.RECORDS).exists()


def test_a_resolver_in_an_override_disables_the_shortcut(project: Path) -> None:
    _build(project, "seed=${oc.decode:'7'}")
    assert _fresh(project, "seed=${oc.decode:'7'}") is None
