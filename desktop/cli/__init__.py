"""The `folio` command: a thin client of the core, like the GUI.

Each subcommand lives in its own module exposing `add_parser(subparsers)`, which registers
the parser and sets `func` to a callable taking the parsed args and returning an exit code.
Whatever escapes a command goes through the core's error boundary (`desktop.boundary`): a
cancel exits 130, a user's or environment's problem prints one line on stderr and exits 1,
and a bug's traceback goes to the log file while one line says where (exit 70).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from desktop import __version__, boundary, logs

log = logging.getLogger("folio")

# Offline is a promise: nothing but an explicit `folio models pull` may reach the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def build_parser() -> argparse.ArgumentParser:
    from desktop.cli import (
        adapters_cmd,
        bench_cmd,
        engines_cmd,
        eval_cmd,
        library_cmd,
        models_cmd,
        selftest_cmd,
        train_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="folio", description="Ask questions of your own documents, offline."
    )
    parser.add_argument("--version", action="version", version=f"folio {__version__}")
    parser.add_argument(
        "--library",
        type=Path,
        default=None,
        help="library database file (default: FOLIO_HOME or the user data folder)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = (
        library_cmd,
        models_cmd,
        adapters_cmd,
        engines_cmd,
        train_cmd,
        bench_cmd,
        eval_cmd,
        selftest_cmd,
    )
    for module in commands:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup_console(verbose=args.verbose)
    func = getattr(args, "func", None)
    if func is None:
        return _launch_gui(args)
    from desktop.cli.common import config_for

    config = None
    try:
        config = config_for(args)
        args.config = config
        logs.setup_logging(config.locations.log_file)
        return int(func(args) or 0)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 - the error boundary sorts everything
        outcome = boundary.classify(
            exc,
            library=config.library_path if config else args.library,
            log_file=config.locations.log_file if config else None,
        )
        prefix = "folio: " if outcome.kind == "cancelled" else "folio: error: "
        print(prefix + outcome.message, file=sys.stderr)
        return outcome.exit_code


def _launch_gui(args: argparse.Namespace) -> int:
    try:
        from desktop.ui.app import run_app
    except ImportError as exc:  # GUI not available in this build or environment
        print(
            f"folio: the desktop window cannot start ({exc}); see `folio --help`.", file=sys.stderr
        )
        return 1
    return run_app(library=args.library)
