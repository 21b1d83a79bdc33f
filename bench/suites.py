"""The measurements: each suite returns its figures, every sample kept."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from harness import (
    BIN,
    REPO,
    WORK,
    Figure,
    clone_project,
    env,
    interleave,
    quote,
    ratio_samples,
    repeat,
    shell,
)

SPEC = "specs/digits_mlp.yaml"
BUNDLE = "build/digits-mlp"
# A pure-Python requirement set: pip-compile --generate-hashes may fetch every
# file of the releases it pins to hash them, which for the torch set of the
# digits spec means gigabytes of wheels for other platforms. Both resolvers run
# on this set.
PURE_SET = (
    "attrs",
    "certifi",
    "click",
    "decorator",
    "idna",
    "importlib-metadata",
    "jmespath",
    "more-itertools",
    "packaging",
    "pyparsing",
    "python-dateutil",
    "pytz",
    "typing-extensions",
    "tzdata",
    "urllib3",
    "zipp",
)
# What the digits bundle's entrypoint sets before Python starts; the hand-wired
# pipeline gets the same, so both stage processes start alike.
LAUNCH_ENV = {
    "PYTHONHASHSEED": "42",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
}
QUIET = {"DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}


@dataclass(frozen=True)
class Config:
    """How many runs per figure, and whether to use small sizes (a smoke test)."""

    runs: int
    quick: bool


def _timed(command: str, cwd: Path, environ: dict[str, str] | None = None) -> Any:
    return lambda: shell(command, cwd, environ)


def _counted(project: Path, args: list[str], prepare: Callable[[], None]) -> int:
    """Return how many resolver calls `reprospec ARGS` makes after prepare."""
    prepare()
    count_file = project / ".reprospec-bench-calls"
    count_file.unlink(missing_ok=True)
    script = REPO / "bench" / "count_calls.py"
    shell(quote(["python", str(script), str(count_file), *args]), project)
    return int(count_file.read_text().split()[-1])


def cli_start(cfg: Config) -> list[Figure]:
    """`reprospec --help` against importing Hydra and pydantic."""
    project = clone_project("cli")
    help_cmd = "reprospec --help"
    import_cmd = 'python -c "import hydra, pydantic"'
    for command in (help_cmd, import_cmd):
        shell(command, project)
    helped, imported = interleave(
        cfg.runs,
        [(None, _timed(help_cmd, project)), (None, _timed(import_cmd, project))],
    )
    ratio = ratio_samples(helped, imported)
    return [
        Figure("cli.help", "CLI start: reprospec --help", "s", helped, help_cmd),
        Figure(
            "cli.import",
            "python -c 'import hydra, pydantic'",
            "s",
            imported,
            import_cmd,
        ),
        Figure(
            "cli.ratio",
            "CLI start ratio: --help / import hydra+pydantic",
            "x",
            ratio,
            f"{help_cmd}  vs  {import_cmd}, alternating",
            target="< 1",
            met=_median(ratio) < 1,
        ),
    ]


def build(cfg: Config) -> list[Figure]:
    """Build cold, after an edit that touches no dependency, and with nothing to do."""
    project = clone_project("build")
    command = f"reprospec build {SPEC}"
    args = ["build", SPEC]

    def cold() -> None:
        shutil.rmtree(project / BUNDLE, ignore_errors=True)
        shutil.rmtree(project / ".reprospec", ignore_errors=True)

    seeds = iter(range(10_000))

    def edit() -> None:
        spec = project / SPEC
        text = spec.read_text()
        new = f"seed: {43 + next(seeds) % 2}\n"
        spec.write_text(re.sub(r"(?m)^seed: \d+\n", new, text, count=1))

    cold()
    shell(command, project)  # warms uv's cache
    cold_runs = repeat(cfg.runs, _timed(command, project), cold)
    cold_calls = _counted(project, args, cold)
    edit_runs = repeat(cfg.runs, _timed(command, project), edit)
    edit_calls = _counted(project, args, edit)
    _restore_seed(project)
    shell(command, project)
    hydra_cmd = 'python -c "import hydra"'
    noop_runs, hydra_runs = interleave(
        cfg.runs, [(None, _timed(command, project)), (None, _timed(hydra_cmd, project))]
    )
    noop_calls = _counted(project, args, lambda: None)
    noop_ratio = ratio_samples(noop_runs, hydra_runs)
    return [
        Figure(
            "build.cold",
            "build, cold (bundle and lock cache removed; uv resolves, warm cache)",
            "s",
            cold_runs,
            f"rm -rf {BUNDLE} .reprospec && {command}",
            extra={"resolver_calls": cold_calls},
        ),
        Figure(
            "build.edit",
            "build after a spec edit that touches no dependency (seed)",
            "s",
            edit_runs,
            f"sed -i 's/^seed: .*/seed: 43/' {SPEC} && {command}",
            target="<= 1 s, 0 resolver calls",
            met=_median(edit_runs) <= 1.0 and edit_calls == 0,
            extra={"resolver_calls": edit_calls},
        ),
        Figure(
            "build.noop",
            "no-op rebuild",
            "s",
            noop_runs,
            command,
            target="< import hydra",
            met=_median(noop_runs) < _median(hydra_runs) and noop_calls == 0,
            extra={"resolver_calls": noop_calls},
        ),
        Figure(
            "build.import_hydra", "python -c 'import hydra'", "s", hydra_runs, hydra_cmd
        ),
        Figure(
            "build.noop_ratio",
            "no-op rebuild / import hydra",
            "x",
            noop_ratio,
            f"{command}  vs  {hydra_cmd}, alternating",
            target="< 1",
            met=_median(noop_ratio) < 1,
        ),
    ]


def _restore_seed(project: Path) -> None:
    spec = project / SPEC
    spec.write_text(
        re.sub(r"(?m)^seed: \d+\n", "seed: 42\n", spec.read_text(), count=1)
    )


def lock(cfg: Config) -> list[Figure]:
    """uv against pip-compile; a rebuild whose lock inputs did not change."""
    folder = WORK / "lock"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    project = WORK / "build"
    if not project.is_dir():
        project = clone_project("build")
    shutil.copy(project / BUNDLE / "requirements.in", folder / "digits.in")
    (folder / "pure.in").write_text("\n".join(PURE_SET) + "\n")
    # This machine's wheel folder (a CPU build of torch), named by the variable
    # so that no machine path lands in the results.
    links = "${{PIP_FIND_LINKS:+--find-links $PIP_FIND_LINKS}}"
    uv = (
        "uv pip compile {src} --generate-hashes --python-version 3.11.7 "
        "--python-platform x86_64-unknown-linux-gnu --no-header --quiet -o {out} "
        + links
    ).strip()
    pip_compile = (
        "PIP_CONFIG_FILE=/dev/null pip-compile {src} --generate-hashes --allow-unsafe "
        "--no-header --strip-extras --quiet --output-file {out} " + links
    ).strip()
    uv_digits = uv.format(src="digits.in", out="digits-uv.txt")
    uv_pure = uv.format(src="pure.in", out="pure-uv.txt")
    pc_pure = pip_compile.format(src="pure.in", out="pure-pip-compile.txt")

    def fresh(name: str) -> Callable[[], None]:
        return lambda: (folder / name).unlink(missing_ok=True)

    for command in (uv_digits, uv_pure, pc_pure):  # warm both caches
        shell(command, folder)
    uv_digits_runs = repeat(cfg.runs, _timed(uv_digits, folder), fresh("digits-uv.txt"))
    uv_runs, pc_runs = interleave(
        cfg.runs,
        [
            (fresh("pure-uv.txt"), _timed(uv_pure, folder)),
            (fresh("pure-pip-compile.txt"), _timed(pc_pure, folder)),
        ],
    )
    speedup = ratio_samples(pc_runs, uv_runs)
    uv_offline = f"{uv_pure} --offline"
    offline_runs = repeat(cfg.runs, _timed(uv_offline, folder), fresh("pure-uv.txt"))
    pins = {name: _pins(folder / f"{name}-uv.txt") for name in ("digits", "pure")}

    relock_cmd = f"reprospec build {SPEC} optim.lr=0.005"

    def new_override_bundle() -> None:
        shutil.rmtree(project / ".reprospec" / "bundles", ignore_errors=True)
        shutil.rmtree(project / ".reprospec" / "build-records", ignore_errors=True)

    relock_runs = repeat(cfg.runs, _timed(relock_cmd, project), new_override_bundle)
    relock_calls = _counted(
        project, ["build", SPEC, "optim.lr=0.005"], new_override_bundle
    )
    explicit_cmd = f"reprospec lock {SPEC}"
    explicit_runs = repeat(cfg.runs, _timed(explicit_cmd, project))
    explicit_calls = _counted(project, ["lock", SPEC], lambda: None)
    return [
        Figure(
            "lock.uv_digits",
            f"uv pip compile, digits requirements ({pins['digits']} pins, warm cache)",
            "s",
            uv_digits_runs,
            uv_digits,
        ),
        Figure(
            "lock.uv_pure",
            f"uv pip compile, pure-Python set ({pins['pure']} pins)",
            "s",
            uv_runs,
            uv_pure,
        ),
        Figure(
            "lock.uv_pure_offline",
            "uv pip compile, same set, --offline (cache only: no round trips)",
            "s",
            offline_runs,
            uv_offline,
        ),
        Figure(
            "lock.pip_compile_pure",
            f"pip-compile, pure-Python set ({pins['pure']} pins, warm cache)",
            "s",
            pc_runs,
            pc_pure,
        ),
        Figure(
            "lock.speedup",
            "pip-compile / uv, same pure-Python set, alternating",
            "x",
            speedup,
            f"{pc_pure}  vs  {uv_pure}",
            target=">= 10",
            met=_median(speedup) >= 10,
        ),
        Figure(
            "lock.relock_unchanged",
            "build with lock inputs unchanged (new override bundle: lock reused)",
            "s",
            relock_runs,
            f"rm -rf .reprospec/bundles .reprospec/build-records && {relock_cmd}",
            target="0 resolver calls",
            met=relock_calls == 0,
            extra={"resolver_calls": relock_calls},
        ),
        Figure(
            "lock.explicit",
            "reprospec lock, inputs unchanged (an explicit re-resolve)",
            "s",
            explicit_runs,
            explicit_cmd,
            note="re-resolves by design: the user asked for it",
            extra={"resolver_calls": explicit_calls},
        ),
    ]


def _pins(lock_file: Path) -> int:
    text = lock_file.read_text()
    return len(re.findall(r"(?m)^[A-Za-z0-9][^ ]*==", text))


def digest(cfg: Config) -> list[Figure]:
    """The canonical array digest against hashlib.sha256 on the same bytes."""
    mib = 64 if cfg.quick else 1024
    command = f"python bench/probes/digest_probe.py {mib} {cfg.runs}"
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=REPO,
        env=env(),
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(done.stdout)
    gib = data["bytes"] / (1 << 30)
    canonical = [gib / s for s in data["canonical"]]
    plain = [gib / s for s in data["sha256"]]
    ratio = ratio_samples(canonical, plain)
    return [
        Figure(
            "digest.canonical",
            f"canonical digest, {mib} MiB float32 (4 arrays)",
            "GiB/s",
            canonical,
            command,
        ),
        Figure("digest.sha256", "hashlib.sha256, same bytes", "GiB/s", plain, command),
        Figure(
            "digest.ratio",
            "canonical / sha256 throughput, alternating",
            "x",
            ratio,
            command,
            target=">= 0.9",
            met=_median(ratio) >= 0.9,
        ),
    ]


def tracking(cfg: Config) -> list[Figure]:
    """Recording one run: the embedded SQLite store against a local MLflow server."""
    folder = WORK / "tracking"
    shutil.rmtree(folder, ignore_errors=True)
    project = folder / "project"
    source = WORK / "build" if (WORK / "build").is_dir() else clone_project("build")
    shutil.copytree(source / BUNDLE, project / BUNDLE)
    relative = project.relative_to(REPO).as_posix()
    sqlite = f"sqlite:///{relative}/.reprospec/mlflow.db"
    probe = "bench/probes/tracking_probe.py"
    server, uri = _start_server(folder / "server")
    try:
        commands = {
            name: quote(["python", probe, relative, store, "3"])
            for name, store in (("sqlite", sqlite), ("server", uri))
        }
        for command in commands.values():  # schema, experiment, caches
            _probe(command)
        results: dict[str, list[dict[str, Any]]] = {"sqlite": [], "server": []}
        for _ in range(cfg.runs):
            for name, command in commands.items():
                results[name].append(_probe(command))
    finally:
        _stop(server)
    figures = []
    for name, title in (
        ("sqlite", "embedded SQLite"),
        ("server", "local MLflow server"),
    ):
        firsts = [r["first"] for r in results[name]]
        later = [s for r in results[name] for s in r["samples"]]
        figures += [
            Figure(
                f"tracking.{name}",
                f"record one run, fresh process, {title}",
                "s",
                firsts,
                commands[name],
                note="MLflow imported before the clock starts, as during a run",
            ),
            Figure(
                f"tracking.{name}_steady",
                f"record one run, later runs in one process, {title}",
                "s",
                later,
                commands[name],
            ),
        ]
    imports = [r["import"] for rs in results.values() for r in rs]
    figures.append(
        Figure(
            "tracking.import",
            "import MLflow's client and store",
            "s",
            imports,
            "see above",
        )
    )
    ratio = ratio_samples(
        [r["first"] for r in results["server"]], [r["first"] for r in results["sqlite"]]
    )
    figures.append(
        Figure(
            "tracking.ratio",
            "server / SQLite, per run in a fresh process",
            "x",
            ratio,
            "both probes above, alternating",
        )
    )
    return figures


def _probe(command: str) -> dict[str, Any]:
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=REPO,
        env=env(**QUIET),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    folder.mkdir(parents=True)
    port = _free_port()
    command = [
        str(BIN / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{folder / 'server.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
    ]
    log = (folder / "server.log").open("wb")
    server = subprocess.Popen(
        command,
        cwd=folder,
        env=env(**QUIET, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mlflow server exited; see {folder / 'server.log'}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                return server, uri
        except OSError:
            time.sleep(0.5)
    _stop(server)
    raise RuntimeError(
        f"mlflow server did not answer in time; see {folder / 'server.log'}"
    )


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _stop(server: subprocess.Popen[bytes]) -> None:
    """End the server and the workers it started, each by its own pid."""
    children = _descendants(server.pid)
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def run_overhead(cfg: Config) -> list[Figure]:
    """`reprospec run` against the same four stages wired by hand, each in its clone."""
    ours = clone_project("run-reprospec")
    theirs = clone_project("run-handwired")
    wired = theirs / "handwired"
    wired.mkdir()
    for name in ("stages.py", "log_run.py"):
        shutil.copy(REPO / "bench" / "handwired" / name, wired / name)
    # The saved MLflow model carries the environment files, as a user's would.
    for name in ("params.yaml", "spec.yaml", "conda.yaml", "requirements-lock.txt"):
        shutil.copy(theirs / BUNDLE / name, wired / name)
    spec = yaml.safe_load((wired / "spec.yaml").read_text())
    (wired / "dvc.yaml").write_text(yaml.safe_dump(_handwired_pipeline(spec)))
    ours_cmd = f"reprospec run {SPEC} --force"
    theirs_cmd = "dvc repro --force handwired/dvc.yaml && python handwired/log_run.py"
    launch = " ".join(f"{k}={v}" for k, v in LAUNCH_ENV.items())
    theirs_env = env(**QUIET, **LAUNCH_ENV)
    for command, cwd, environ in (
        (ours_cmd, ours, None),
        (theirs_cmd, theirs, theirs_env),
    ):
        shell(command, cwd, environ)  # DVC cache, MLflow schema
    ours_runs, theirs_runs = interleave(
        cfg.runs,
        [
            (None, _timed(ours_cmd, ours)),
            (None, _timed(theirs_cmd, theirs, theirs_env)),
        ],
    )
    same = _same_predictions(ours, theirs)
    ratio = ratio_samples(ours_runs, theirs_runs)
    extra = [a - b for a, b in zip(ours_runs, theirs_runs, strict=True)]
    return [
        Figure(
            "run.reprospec", "reprospec run --force, digits", "s", ours_runs, ours_cmd
        ),
        Figure(
            "run.handwired",
            "hand-wired dvc.yaml + manual MLflow logging, digits",
            "s",
            theirs_runs,
            f"{launch} {theirs_cmd}",
            extra={"same_predictions": same},
        ),
        Figure(
            "run.ratio",
            "run overhead ratio (pairs back to back)",
            "x",
            ratio,
            "both commands above, alternating",
            target="<= 1.1",
            met=_median(ratio) <= 1.1,
        ),
        Figure(
            "run.extra",
            "run overhead, absolute (pairs back to back)",
            "s",
            extra,
            "both commands above, alternating",
            target="<= 1.5 s",
            met=_median(extra) <= 1.5,
        ),
    ]


def _handwired_pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    """Return a plain dvc.yaml: each stage runs `python stages.py NAME`."""
    stages = {}
    for name, stage in spec["stages"].items():
        module = stage["run"].partition(":")[0].replace(".", "/")
        entry: dict[str, Any] = {
            "cmd": f"python stages.py {name}",
            "deps": ["stages.py", f"../{module}.py", *stage["deps"]],
        }
        if stage["params"]:
            entry["params"] = list(stage["params"])
        if stage["outs"]:
            entry["outs"] = list(stage["outs"])
        for kind in ("metrics", "plots"):
            if stage[kind]:
                entry[kind] = [{path: {"cache": False}} for path in stage[kind]]
        stages[name] = entry
    return {"stages": stages}


def _same_predictions(ours: Path, theirs: Path) -> bool:
    from reprospec.digest import output_digest

    mine = output_digest(ours / BUNDLE / "outputs" / "predictions.npy")
    wired = output_digest(theirs / "handwired" / "outputs" / "predictions.npy")
    return mine == wired


def scaling(cfg: Config) -> list[Figure]:
    """Full build time as the declared outputs, deps and param keys grow."""
    project = clone_project("scaling")
    _seed_lock_cache(project)
    sizes = (4, 40, 400, 4000)
    commands = {}
    for size in sizes:
        spec = f"specs/scale_{size}.yaml"
        (project / spec).write_text(_scaled_spec(project, size))
        commands[size] = f"reprospec build {spec}"

    def fresh(size: int) -> Callable[[], None]:
        def clear() -> None:
            shutil.rmtree(project / "build" / f"scale-{size}", ignore_errors=True)
            shutil.rmtree(project / ".reprospec" / "build-records", ignore_errors=True)

        return clear

    for size in sizes:
        fresh(size)()
        shell(commands[size], project)
    samples = interleave(
        cfg.runs, [(fresh(size), _timed(commands[size], project)) for size in sizes]
    )
    calls = {
        size: _counted(project, ["build", f"specs/scale_{size}.yaml"], fresh(size))
        for size in sizes
    }
    medians = [_median(s) for s in samples]
    per_item = [
        (medians[i + 1] - medians[i]) / (sizes[i + 1] - sizes[i])
        for i in range(len(sizes) - 1)
    ]
    figures = [
        Figure(
            f"scaling.n{size}",
            f"full build, {size} outs, {3 * size // 4} deps, {size} param keys",
            "s",
            runs,
            f"rm -rf build/scale-{size} .reprospec/build-records && {commands[size]}",
            extra={"resolver_calls": calls[size]},
        )
        for size, runs in zip(sizes, samples, strict=True)
    ]
    # Below 400 items the fixed cost of a build (about half a second) drowns
    # the per-item cost in noise; the last two steps show how it grows.
    growth = per_item[-1] / per_item[-2] if per_item[-2] > 0 else float("inf")
    figures.append(
        Figure(
            "scaling.growth",
            "cost per item 400->4000 / cost per item 40->400 (1 = linear)",
            "x",
            [growth],
            "from the medians above",
            target="<= 1.5 (linear, not worse)",
            met=growth <= 1.5,
            extra={"seconds_per_item": per_item},
        )
    )
    return figures


def _seed_lock_cache(project: Path) -> None:
    """Put the committed digits lock in the lock cache, under its inputs digest."""
    text = (project / BUNDLE / "requirements-lock.txt").read_text()
    digest = re.search(r"^# lock inputs: sha256:([0-9a-f]{64})$", text, re.M)
    if digest is None:
        raise RuntimeError("the committed digits lock names no inputs digest")
    cache = project / ".reprospec" / "locks"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"{digest.group(1)}.txt").write_text(text)


def _scaled_spec(project: Path, size: int) -> str:
    """Return a spec like the digits one whose four stages declare size files each.

    Stage k writes size/4 files; stage k+1 depends on all of them; train reads a
    parameter section of size keys.
    """
    digits = yaml.safe_load((project / SPEC).read_text())
    per_stage = size // 4
    files = {
        stage: [f"data/{stage}/part{i:04d}.npz" for i in range(per_stage)]
        for stage in ("ingest", "preprocess", "train", "evaluate")
    }
    spec = {
        "spec_version": 1,
        "name": f"scale-{size}",
        "team": "bench",
        "project": "scaling",
        "seed": 42,
        "environment": digits["environment"],
        "determinism": digits["determinism"],
        "grid": {f"key{i:04d}": i for i in range(size)},
        "stages": {
            "ingest": {"run": "examples.digits:ingest", "outs": files["ingest"]},
            "preprocess": {
                "run": "examples.digits:preprocess",
                "deps": files["ingest"],
                "outs": files["preprocess"],
            },
            "train": {
                "run": "examples.digits:train",
                "deps": files["preprocess"],
                "outs": files["train"],
                "params": ["grid", "seed"],
            },
            "evaluate": {
                "run": "examples.digits:evaluate",
                "deps": files["train"],
                "outs": files["evaluate"],
                "metrics": ["metrics.json"],
            },
        },
    }
    return yaml.safe_dump(spec, sort_keys=False)


def _median(samples: list[float]) -> float:
    ordered = sorted(samples)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


SUITES: dict[str, Callable[[Config], list[Figure]]] = {
    "cli": cli_start,
    "build": build,
    "lock": lock,
    "run": run_overhead,
    "digest": digest,
    "tracking": tracking,
    "scaling": scaling,
}
