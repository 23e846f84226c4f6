"""`folio selftest [--screenshot DIR]`: open the real window and check it end to end."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop.cli.common import Subcommands


def add_parser(sub: Subcommands) -> None:
    p = sub.add_parser(
        "selftest",
        help="open the window, index a sample, ask, switch the adapter (a smoke test)",
        description="Opens Folio's window (offscreen when there is no display) in a temporary "
        "home, indexes a generated sample folder, asks a question, switches the style "
        "adapter and asks again. Exits 0 only if every step worked.",
    )
    p.add_argument(
        "--screenshot",
        type=Path,
        default=None,
        metavar="DIR",
        help="save a PNG of each state into DIR",
    )
    p.set_defaults(func=cmd_selftest)


def cmd_selftest(args: argparse.Namespace) -> int:
    try:
        from desktop.ui.selftest import run_selftest
    except ImportError as exc:  # a build without the GUI
        print(f"folio: the desktop window is not available ({exc})", file=sys.stderr)
        return 1
    from desktop.cli.common import config_for

    return run_selftest(args.screenshot, user=config_for(args).locations)
