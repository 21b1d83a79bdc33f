"""Replay, diff, verify and the experiment card, against a real MLflow store."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import cli, commit
from reprospec import tracking

SPEC = "specs/digits_mlp.yaml"


def _last_run(root: Path, bundle: str = "digits-mlp") -> str:
    data = json.loads((root / ".reprospec" / "last-run" / f"{bundle}.json").read_text())
    return str(data["run_id"])


def test_replay_of_an_earlier_run_gives_identical_digests(ran_project: Path) -> None:
    run_id = _last_run(ran_project)
    done = cli(ran_project, "replay", run_id)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"replay of run {run_id}:" in done.stdout
    assert "output(s) identical" in done.stdout
    worktrees = subprocess.run(
        ["git", "worktree", "list"], cwd=ran_project, capture_output=True, text=True
    ).stdout
    assert len(worktrees.splitlines()) == 1


def test_diff_of_a_learning_rate_change_names_only_that_param(
    ran_project: Path,
) -> None:
    first = _last_run(ran_project)
    other = cli(ran_project, "run", SPEC, "optim.lr=0.002")
    assert other.returncode == 3, other.stderr
    second = re.search(r"^run ([0-9a-f]{32})$", other.stdout, re.M).group(1)  # type: ignore[union-attr]
    done = cli(ran_project, "diff", first, second)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "Resolved parameters: 1 difference(s)" in text
    assert re.search(r"^  optim\.lr  A: 0\.001  B: 0\.002$", text, re.M)
    for same in (
        "Lock pins",
        "Data version",
        "Code",
        "Seed, determinism and threads",
        "Platform",
    ):
        assert f"{same}: same" in text
    assert "Output digests:" in text and "Output digests: same" not in text
    assert "Most likely cause: the parameters changed (optim.lr)." in text


def _record(root: Path, lock: str, digest: str) -> str:
    folder = root / f"lock-{digest}"
    folder.mkdir()
    (folder / "requirements-lock.txt").write_text(lock)
    (folder / "digests.json").write_text(json.dumps({"out.npy": digest}))
    record = tracking.RunRecord(
        experiment="team/project/data",
        run_name="r",
        start_ms=1,
        end_ms=2,
        status="FINISHED",
        params={"optim.lr": "0.1"},
        tags={"git_commit": "abc", "data_version": "sha256:1", "seed": "1"},
        metrics={"accuracy": 0.9},
        artifacts=(folder / "requirements-lock.txt", folder / "digests.json"),
    )
    return tracking.record(tracking.tracking_uri(root, None), root, record)


def test_diff_of_two_locks_names_the_package(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    a = _record(
        tmp_path, "numpy==2.4.6 \\\n    --hash=sha256:aa\nsix==1.16.0\n", "sha256:1"
    )
    b = _record(
        tmp_path, "numpy==2.4.5 \\\n    --hash=sha256:bb\nsix==1.16.0\n", "sha256:2"
    )
    done = cli(tmp_path, "diff", a, b)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^  numpy  A: 2\.4\.6  B: 2\.4\.5$", done.stdout, re.M)
    assert "six" not in done.stdout
    assert "Most likely cause: the locked environment changed (numpy)." in done.stdout


def test_unknown_run_exits_2(ran_project: Path) -> None:
    done = cli(ran_project, "diff", "0" * 32, "1" * 32)
    assert done.returncode == 2
    assert "no run '00000000000000000000000000000000'" in done.stderr


def test_verify_passes_then_fails_on_gate_and_tampered_snapshot(project: Path) -> None:
    summary = project / "summary.md"
    env_summary = {"GITHUB_STEP_SUMMARY": str(summary)}
    done = cli(project, "verify", SPEC, env=env_summary)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "## reprospec verify `specs/digits_mlp.yaml`: passed" in summary.read_text()

    spec = project / SPEC
    text = spec.read_text()
    spec.write_text(text.replace("    min: 0.9\n", "    min: 0.999\n"))
    commit(project)
    tightened = cli(project, "verify", SPEC)
    assert tightened.returncode == 5, tightened.stderr[-2000:]
    assert (
        "accuracy:" in tightened.stderr
        and "below the minimum 0.999" in tightened.stderr
    )

    ci_block = text.split("ci_snapshots:")[1]
    recorded = re.search(r'"outputs/predictions.npy": "(sha256:[0-9a-f]+)"', ci_block)
    assert recorded
    spec.write_text(text.replace(recorded.group(1), "sha256:" + "f" * 64))
    commit(project)
    tampered = cli(project, "verify", SPEC)
    assert tampered.returncode == 3, tampered.stderr[-2000:]
    assert "--update --ci" in tampered.stderr


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_card_renders_in_headless_chromium(ran_project: Path, tmp_path: Path) -> None:
    run_id = _last_run(ran_project)
    out = tmp_path / "card"
    done = cli(ran_project, "card", run_id, "--out", str(out))
    assert done.returncode == 0, done.stderr
    page = (out / "card.html").read_text()
    assert page.count("data:image/png;base64,") == 2
    assert f"run {run_id}" in page
    shot = tmp_path / "card.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,2400",
            (out / "card.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    blues = sum(n for n, (r, g, b) in colours if b > 150 and r < 120)
    assert blues > 500, "no plot colours in the screenshot"
