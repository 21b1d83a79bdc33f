"""Guards refuse with exit 4; locks serialise; interrupted runs are KILLED."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from filelock import FileLock

from conftest import cli, commit

SPEC = "specs/digits_mlp.yaml"


def test_dirty_tree_is_refused_naming_the_file(project: Path) -> None:
    digits = project / "examples" / "digits.py"
    digits.write_text(digits.read_text() + "\n# local experiment\n")
    done = cli(project, "run", SPEC)
    assert done.returncode == 4
    assert "examples/digits.py" in done.stderr
    assert "--allow-dirty" in done.stderr
    assert not (project / ".reprospec" / "mlflow.db").exists()


def test_allow_dirty_records_the_diff(project: Path) -> None:
    (project / "notes.txt").write_text("tried a smaller batch, ask ada@example.org\n")
    digits = project / "examples" / "digits.py"
    digits.write_text(digits.read_text() + "# token ghp_" + "Q" * 36 + "\n")
    done = cli(project, "run", SPEC, "--allow-dirty")
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[1]

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project}/.reprospec/mlflow.db")
    run = client.get_run(run_id)
    assert run.data.tags["git_dirty"] == "true"
    patch = Path(client.download_artifacts(run_id, "git-diff.patch")).read_text()
    assert "# untracked: notes.txt" in patch
    assert "+# token [redacted]" in patch
    assert "ghp_" not in patch


def test_missing_required_variable_is_named(project: Path) -> None:
    env_name = "REPROSPEC_TEST_UNSET_VARIABLE"
    assert env_name not in os.environ
    done = cli(project, "run", SPEC, f"+environment.required_env=[{env_name}]")
    assert done.returncode == 4
    assert env_name in done.stderr


def test_environment_drift_lists_each_package(project: Path) -> None:
    requirements = "['torch==2.13.0','scikit-learn==1.9.1','numpy==2.4.5']"
    done = cli(
        project,
        "run",
        SPEC,
        f"environment.requirements={requirements}",
        "environment.constraints=[]",  # free the lock from the installed versions
    )
    assert done.returncode == 4, done.stderr
    assert "numpy" in done.stderr
    assert "locked 2.4.5" in done.stderr
    assert "installed 2.4.6" in done.stderr


def test_second_build_waits_and_says_so(project: Path) -> None:
    lock = FileLock(project / ".reprospec" / "locks" / "digits-mlp.lock")
    (project / ".reprospec" / "locks").mkdir(parents=True)
    with lock:
        waiting = subprocess.Popen(
            [sys.executable, "-m", "reprospec", "build", SPEC],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        assert waiting.poll() is None
    _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert "waiting: another build or run of digits-mlp holds" in err


def _manifest_whole(bundle: Path) -> bool:
    import hashlib

    manifest = json.loads((bundle / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        blob = (bundle / name).read_bytes()
        if "sha256:" + hashlib.sha256(blob).hexdigest() != digest:
            return False
    return True


def test_builds_killed_at_any_moment_leave_a_whole_bundle(project: Path) -> None:
    spec = project / SPEC
    text = spec.read_text()
    bundle = project / "build" / "digits-mlp"
    for attempt in range(8):
        spec.write_text(text.replace("seed: 42", f"seed: {100 + attempt}"))
        child = subprocess.Popen(
            [sys.executable, "-m", "reprospec", "build", SPEC],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.15 * attempt)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert _manifest_whole(bundle), f"attempt {attempt} left a torn bundle"
    assert cli(project, "build", SPEC).returncode == 0
    assert _manifest_whole(bundle)


def test_sigterm_marks_the_run_killed_and_a_rerun_succeeds(project: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "reprospec", "run", SPEC],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    seen = ""
    for line in child.stderr:
        seen += line
        if "python entrypoint.py train" in line:
            break
    child.send_signal(signal.SIGTERM)
    _, rest = child.communicate(timeout=120)
    assert child.returncode == 143, seen + rest
    assert "marked KILLED" in rest
    assert _stage_processes(project) == [], "a stage outlived the interrupted run"

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project}/.reprospec/mlflow.db")
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string="attributes.status = 'KILLED'",
    )
    assert len(runs) == 1
    commit(project, "after the interrupted run")
    again = cli(project, "run", SPEC)
    assert again.returncode == 0, again.stderr


def _stage_processes(project: Path) -> list[int]:
    """Return the pids of stage interpreters still working in the project."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if b"entrypoint.py" in cmdline and cwd.startswith(str(project)):
            found.append(int(proc.name))
    return found


def test_a_broken_tracking_store_is_refused_before_any_stage(project: Path) -> None:
    store = project / ".reprospec" / "mlflow.db"
    store.parent.mkdir(parents=True)
    store.write_bytes(b"this is not a database" * 100)
    done = cli(project, "run", SPEC)
    assert done.returncode == 4
    assert "is not a readable SQLite database" in done.stderr
    assert "Running stage" not in done.stderr
