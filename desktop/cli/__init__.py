"""The `folio` command: a thin client of the core, like the GUI.

Each subcommand lives in its own module exposing `add_parser(subparsers)`, which registers
the parser and sets `func` to a callable taking the parsed args and returning an exit code.
User errors (`FolioError`) print one line on stderr and exit 1; bugs keep their traceback
in the log file and print a short pointer to it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from desktop import __version__
from desktop.errors import Cancelled, FolioError

log = logging.getLogger("folio")

# Offline is a promise: nothing but an explicit `folio models pull` may reach the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def build_parser() -> argparse.ArgumentParser:
    from desktop.cli import (
        adapters_cmd,
        bench_cmd,
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
    for module in (library_cmd, models_cmd, adapters_cmd, bench_cmd, selftest_cmd):
        module.add_parser(sub)
    for module in (train_cmd, eval_cmd):  # style training and its evaluation (issue 8)
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    func = getattr(args, "func", None)
    if func is None:
        return _launch_gui(args)
    try:
        return int(func(args) or 0)
    except Cancelled:
        print("folio: cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("folio: interrupted", file=sys.stderr)
        return 130
    except FolioError as exc:
        print(f"folio: error: {exc}", file=sys.stderr)
        return 1


def _launch_gui(args: argparse.Namespace) -> int:
    try:
        from desktop.ui.app import run_app
    except ImportError as exc:  # GUI not available in this build or environment
        print(
            f"folio: the desktop window cannot start ({exc}); see `folio --help`.", file=sys.stderr
        )
        return 1
    return run_app(library=args.library)
