"""`folio selftest [--screenshot DIR]`: open the real window and check it end to end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktop.cli.common import Subcommands, add_command


def add_parser(sub: Subcommands) -> None:
    p = add_command(sub, "selftest", cmd_selftest)
    p.add_argument(
        "--screenshot",
        type=Path,
        default=None,
        metavar="DIR",
        help="save a PNG of each state into DIR",
    )


def cmd_selftest(args: argparse.Namespace) -> int:
    """Open the window, index a sample, ask, switch the adapter (a smoke test).

    Opens Folio's window (offscreen when there is no display) in a temporary home, indexes
    a generated sample folder, asks a question, switches the style adapter and asks again.
    Exits 0 only if every step worked.
    """
    try:
        from desktop.ui.selftest import run_selftest
    except ImportError as exc:  # a build without the GUI
        print(f"folio: the desktop window is not available ({exc})", file=sys.stderr)
        return 1
    from desktop.cli.common import config_for

    return run_selftest(args.screenshot, user=config_for(args).locations)
