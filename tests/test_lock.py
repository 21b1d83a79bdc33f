"""Locks: header, refusals, the spec's Python, both resolvers and `reprospec lock`."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

from conftest import REPO, cli
from reprospec import compose, lock, resolvers
from reprospec.errors import SpecError, UsageError
from reprospec.resolvers import Request, Upgrade

LOGREG = "specs/digits_logreg.yaml"
BUNDLE = Path("build/digits-logreg")


def _request(text: str, python: str = "3.11.7", **kw: object) -> Request:
    platforms = kw.pop("platforms", ("linux-x86_64",))
    return Request(text, python, platforms, None, Upgrade())  # type: ignore[arg-type]


def test_committed_lock_header_names_its_making() -> None:
    text = (REPO / BUNDLE / "requirements-lock.txt").read_text()
    header = text.split("\n\n")[0]
    assert f"from {LOGREG}. Do not edit." in header
    assert "# Resolver: uv " in header
    assert "# Python: 3.11.7; platforms: linux-x86_64" in header
    assert f"# Regenerate: reprospec lock {LOGREG}" in header
    assert lock.INPUTS_PREFIX in header


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("-e git+https://example.org/x.git#egg=x", "editable install"),
        ("git+https://example.org/x.git", "VCS or direct URL"),
        ("x @ https://example.org/x-1.0.tar.gz", "VCS or direct URL"),
        ("--index-url https://example.org/simple", "options do not belong"),
    ],
)
def test_unhashable_requirement_is_refused_naming_it(line: str, says: str) -> None:
    base = compose.load(str(REPO / LOGREG), [])
    data = copy.deepcopy(base.spec.resolved())
    data["environment"]["requirements"].append(line)
    index = len(data["environment"]["requirements"]) - 1
    with pytest.raises(SpecError) as caught:
        compose.validate(data, base.relpath)
    message = str(caught.value)
    assert f"environment.requirements.{index}" in message
    assert repr(line) in message and says in message


def test_unhashable_requirement_names_the_file_line(project: Path) -> None:
    spec = project / LOGREG
    text = spec.read_text().replace(
        "    - numpy==2.4.6\n", "    - numpy==2.4.6\n    - -e ./vendored/pkg\n"
    )
    spec.write_text(text)
    line = text.splitlines().index("    - -e ./vendored/pkg") + 1
    done = cli(project, "build", LOGREG)
    assert done.returncode == 2
    assert f"{LOGREG}:{line}:" in done.stderr
    assert "pin it as NAME==VERSION" in done.stderr


def test_uv_resolves_for_the_spec_python_not_the_host() -> None:
    old = resolvers.run("uv", _request("pytest==8.3.4\n", python="3.10.4"))
    new = resolvers.run("uv", _request("pytest==8.3.4\n", python="3.12.1"))
    assert "exceptiongroup==" in old and "tomli==" in old
    assert "exceptiongroup==" not in new and "tomli==" not in new


def test_multi_platform_lock_resolves_universally() -> None:
    platforms = ("linux-x86_64", "linux-aarch64", "macos-arm64")
    command = resolvers._uv(_request("x\n", platforms=platforms))
    assert "--universal" in command and "--python-platform" not in command
    body = resolvers.run("uv", _request("tqdm==4.67.1\n", platforms=platforms))
    assert "tqdm==4.67.1" in body and "--hash=sha256:" in body


def test_pip_tools_gives_the_same_format() -> None:
    # pip-compile downloads every file of every candidate to hash it, so this
    # stays with one small pure-Python package.
    request = _request("six==1.17.0\n")
    by_pip_tools = resolvers.run("pip-tools", request)
    by_uv = resolvers.run("uv", request)
    assert lock.pins(by_pip_tools) == lock.pins(by_uv) == {"six": "1.17.0"}
    hashes = {line.strip() for line in by_pip_tools.splitlines() if "--hash" in line}
    assert hashes and hashes <= {
        line.strip() for line in by_uv.splitlines() if "--hash" in line
    } | {h + " \\" for h in hashes}
    assert "/opt/" not in by_pip_tools and "file:" not in by_pip_tools


def test_pip_tools_refuses_another_python() -> None:
    other = "3.10.4" if sys.version_info[:2] != (3, 10) else "3.12.1"
    with pytest.raises(UsageError, match="use --resolver uv"):
        resolvers.run("pip-tools", _request("six==1.17.0\n", python=other))


def test_changed_pins_table() -> None:
    old = "a==1 \\\n    --hash=sha256:00\nb==2\nc==3\n"
    new = "a==1\nb==2.1\nd==4\n"
    changes = lock.changed_pins(old, new)
    assert changes == [("b", "2", "2.1"), ("c", "3", "-"), ("d", "-", "4")]
    assert lock.pin_table(changes).splitlines()[1].split() == ["b", "2", "2.1"]


def test_lock_upgrades_one_package_and_rebuilds(project: Path) -> None:
    # Free the lock from the project's environment so a pin can move.
    spec = project / LOGREG
    spec.write_text(
        "\n".join(
            line for line in spec.read_text().splitlines() if "constraints:" not in line
        )
        + "\n"
    )
    before = (project / BUNDLE / "requirements-lock.txt").read_text()
    same = cli(project, "lock", LOGREG)
    assert same.returncode == 0, same.stderr
    assert "no pin changed" in same.stdout

    done = cli(project, "lock", LOGREG, "--upgrade-package", "joblib==1.5.0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0].split() == ["package", "old", "new"]
    assert ["joblib", "1.6.0", "1.5.0"] in [r.split() for r in done.stdout.split("\n")]
    after = (project / BUNDLE / "requirements-lock.txt").read_text()
    changes = lock.changed_pins(before, after)
    assert ("joblib", "1.6.0", "1.5.0") in changes
    # Nothing else moves: other rows only add or drop what joblib's pin forces.
    assert all("-" in (old, new) for name, old, new in changes if name != "joblib")
    dockerfile = (project / BUNDLE / "Dockerfile").read_text()
    from reprospec.environment import environment_digest

    assert environment_digest(after) in dockerfile
    check = cli(project, "build", "--check", LOGREG)
    assert check.returncode == 0, check.stderr


def test_lock_refuses_upgrade_with_upgrade_package(project: Path) -> None:
    done = cli(project, "lock", LOGREG, "--upgrade", "--upgrade-package", "joblib")
    assert done.returncode == 2
    assert "choose one" in done.stderr
