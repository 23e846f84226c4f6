"""Helpers shared by the CLI subcommands."""

from __future__ import annotations

import argparse
import json
import sys

from desktop.session import Session


def session_for(args: argparse.Namespace) -> Session:
    return Session(library_path=args.library)


def print_json(obj: object) -> None:
    """One JSON object on stdout (the `--json` contract)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()
