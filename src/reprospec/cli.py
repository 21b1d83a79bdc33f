"""Parse the command line and dispatch; map failures to documented exit codes."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from reprospec import __version__
from reprospec.errors import ReprospecError

log = logging.getLogger("reprospec")

EPILOG = """\
exit codes: 0 done; 1 internal error; 2 bad usage or invalid spec;
3 snapshot mismatch or bundle out of date; 4 a guard refused; 5 a gate failed.
Overrides use Hydra's grammar: key=value, +key=value, ~key, group=option."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reprospec",
        description="Compile an experiment spec into a pinned bundle, run it "
        "seeded and tracked, and verify its outputs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("-q", "--quiet", action="store_true")
    commands = parser.add_subparsers(dest="command", required=True)

    build = _command(commands, "build", "compile SPEC into build/NAME/")
    build.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 3 naming each file that would change",
    )
    run = _command(commands, "run", "build when stale, run the stages, verify")
    run.add_argument(
        "--force", action="store_true", help="re-run every stage, cached or not"
    )
    run.add_argument(
        "--repeat",
        type=int,
        metavar="N",
        help="run every stage N times in fresh processes; exit 3 naming each "
        "output that differs and the first stage that made it differ",
    )
    run.add_argument(
        "--allow-dirty",
        action="store_true",
        help="run on uncommitted changes; the run is tagged dirty with its diff",
    )
    run.add_argument(
        "-m",
        "--multirun",
        action="store_true",
        help="sweep: one run per combination of comma-separated override values, "
        "through Hydra's launcher (e.g. hydra/launcher=joblib)",
    )
    _command(commands, "push", "send the recorded data to the spec's DVC remote")
    _command(commands, "pull", "fetch the recorded data from the spec's DVC remote")
    verify = _command(
        commands, "verify", "CI gate: build --check, CI-profile run, snapshots, gates"
    )
    verify.add_argument(
        "--allow-dirty", action="store_true", help="run on uncommitted changes"
    )
    _run_command(
        commands, "card", "render the experiment card of RUN again"
    ).add_argument(
        "--out", metavar="DIR", help="folder to write to (default .reprospec/cards/RUN)"
    )
    _run_command(commands, "replay", "rebuild RUN's bundle at its commit, run, compare")
    diff = commands.add_parser(
        "diff",
        help="explain how two runs differ",
        description="explain how two runs differ",
    )
    diff.add_argument("run_a", metavar="RUN_A")
    diff.add_argument("run_b", metavar="RUN_B")
    diff.add_argument("--tracking-uri", help="MLflow store (default: the project's)")
    snapshot = _command(commands, "snapshot", "record output digests in SPEC")
    snapshot.add_argument(
        "--update",
        action="store_true",
        help="write the latest run's digests into the spec's snapshots",
    )
    snapshot.add_argument(
        "--ci",
        action="store_true",
        help="record the latest CI-profile run (reprospec verify) in ci_snapshots",
    )
    snapshot.add_argument(
        "--output",
        action="append",
        metavar="PATH",
        help="snapshot only this output (repeatable); default: the outputs "
        "snapshotted now, or every output when none is",
    )
    relock = _command(commands, "lock", "re-resolve SPEC's lock; show changed pins")
    relock.add_argument(
        "--upgrade", action="store_true", help="move every pin to its newest version"
    )
    relock.add_argument(
        "--upgrade-package",
        action="append",
        metavar="NAME[==VERSION]",
        help="move only this package (repeatable), to VERSION when given",
    )
    relock.add_argument(
        "--resolver",
        choices=("uv", "pip-tools"),
        default="uv",
        help="uv pip compile (default) or pip-tools' pip-compile",
    )
    _command(commands, "check-seed", "check statically that stages seed first")
    init = commands.add_parser(
        "init",
        help="scaffold a project: specs, conf, code, hooks",
        description="scaffold a project whose starter spec builds and runs",
        epilog=EPILOG,
    )
    init.add_argument("directory", nargs="?", default=".", metavar="DIR")
    init.add_argument("--name", help="the experiment's name (default: DIR's name)")
    init.add_argument("--team", default="research", help="the owning team's slug")
    return parser


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=text, description=text, epilog=EPILOG)
    sub.add_argument("spec", metavar="SPEC", help="the spec file, e.g. specs/x.yaml")
    sub.add_argument("overrides", metavar="OVERRIDE", nargs="*", help="Hydra overrides")
    return sub


def _run_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=text, description=text, epilog=EPILOG)
    sub.add_argument("run", metavar="RUN", help="an MLflow run ID")
    sub.add_argument("--tracking-uri", help="MLflow store (default: the project's)")
    return sub


def main(argv: Sequence[str] | None = None) -> int:
    """Run the reprospec command line and return its exit code."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    flags = [arg for arg in extra if arg.startswith("-")]
    if flags or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(flags or extra)}")
    if hasattr(args, "overrides"):
        args.overrides = [*args.overrides, *extra]
    level = logging.WARNING if args.quiet else logging.INFO - 10 * args.verbose
    logging.basicConfig(level=level, format="reprospec: %(message)s", stream=sys.stderr)
    log.addFilter(_redact)
    from reprospec.tool_env import QUIET_TOOLS

    for key, value in QUIET_TOOLS.items():
        os.environ.setdefault(key, value)
    module = importlib.import_module(
        f"reprospec.commands.{args.command.replace('-', '_')}"
    )
    code = _dispatch(module, args)
    if "rattler" in sys.modules:
        _exit_before_finalising(code)
    return code


def _dispatch(module: object, args: argparse.Namespace) -> int:
    try:
        code: int = module.run(args)  # type: ignore[attr-defined]
    except ReprospecError as exc:
        log.error("%s", exc)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        from reprospec.locking import Terminated

        log.error("stopped: nothing half-written was kept")
        return 143 if isinstance(exc, Terminated) else 130
    except Exception:
        return _internal_error()
    return code


def _exit_before_finalising(code: int) -> None:
    """Exit without interpreter finalisation once py-rattler has been used.

    py-rattler's solver leaves native worker threads behind; under load one of
    them can touch the interpreter while it finalises, and the process aborts
    (SIGABRT) after its work and its message are done. Every file and lock is
    closed by then, so flushing and leaving at once loses nothing.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _redact(record: logging.LogRecord) -> bool:
    """Replace secret-looking values and e-mail addresses in a log record."""
    from reprospec import secrets

    record.msg = secrets.redact(record.getMessage())
    record.args = None
    return True


def _internal_error() -> int:
    directory = Path(os.environ.get("REPROSPEC_LOG_DIR", tempfile.gettempdir()))
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=directory, prefix="reprospec-crash-", suffix=".log", delete=False
    ) as handle:
        traceback.print_exc(file=handle)
    log.error(
        "internal error: this is a bug in reprospec %s. The traceback is in %s; "
        "please attach it to an issue in the reprospec repository",
        __version__,
        handle.name,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
