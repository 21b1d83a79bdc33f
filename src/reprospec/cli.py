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
        "--allow-dirty",
        action="store_true",
        help="run on uncommitted changes; the run is tagged dirty with its diff",
    )
    snapshot = _command(commands, "snapshot", "record output digests in SPEC")
    snapshot.add_argument(
        "--update",
        action="store_true",
        help="write the latest run's digests into the spec's snapshots",
    )
    snapshot.add_argument(
        "--output",
        action="append",
        metavar="PATH",
        help="snapshot only this output (repeatable); default: the outputs "
        "snapshotted now, or every output when none is",
    )
    return parser


def _command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> argparse.ArgumentParser:
    sub = commands.add_parser(name, help=text, description=text, epilog=EPILOG)
    sub.add_argument("spec", metavar="SPEC", help="the spec file, e.g. specs/x.yaml")
    sub.add_argument("overrides", metavar="OVERRIDE", nargs="*", help="Hydra overrides")
    return sub


def main(argv: Sequence[str] | None = None) -> int:
    """Run the reprospec command line and return its exit code."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    flags = [arg for arg in extra if arg.startswith("-")]
    if flags:
        parser.error(f"unrecognized arguments: {' '.join(flags)}")
    args.overrides = [*args.overrides, *extra]
    level = logging.WARNING if args.quiet else logging.INFO - 10 * args.verbose
    logging.basicConfig(level=level, format="reprospec: %(message)s", stream=sys.stderr)
    log.addFilter(_redact)
    module = importlib.import_module(f"reprospec.commands.{args.command}")
    try:
        code: int = module.run(args)
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
