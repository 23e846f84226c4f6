"""Helpers shared by the CLI subcommands: the session of a command, progress lines, and
the result of a command (JSON or a line a row)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from desktop.config import Config
from desktop.session import Session

# What each subcommand module's `add_parser` receives: the `add_subparsers()` of its parent.
# `_SubParsersAction` is the only name argparse (and typeshed) gives that object's type.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

T = TypeVar("T")


def config_for(args: argparse.Namespace) -> Config:
    """The configuration of this command: the user's settings, `--library` if given."""
    config = getattr(args, "config", None)
    if isinstance(config, Config):
        return config
    return Config.from_environment(getattr(args, "library", None))


def session_for(args: argparse.Namespace) -> Session:
    """A new Session for this command (close it, or use it in a `with`)."""
    return Session(config_for(args))


def print_json(obj: object) -> None:
    """One JSON object on stdout (the `--json` contract)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def show(
    args: argparse.Namespace, value: T, as_json: Callable[[T], object], as_text: Callable[[T], None]
) -> None:
    """`value` as one JSON object with --json (`as_json`), else as text for people."""
    if args.json:
        print_json(as_json(value))
    else:
        as_text(value)


def add_actions(
    sub: Subcommands,
    name: str,
    help: str,
    list_help: str,
    list_command: Callable[[argparse.Namespace], int],
) -> Subcommands:
    """A command made of actions, whose bare form lists (`folio NAME` is `folio NAME list`):
    adds it with its `list` action and returns its actions, for the others."""
    p = sub.add_parser(name, help=help)
    p.set_defaults(func=list_command, json=False)
    actions = p.add_subparsers(dest=f"{name}_action", metavar="ACTION")
    listing = actions.add_parser("list", help=list_help)
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(func=list_command)
    return actions


def comma_list(text: str) -> list[str]:
    """The items of a comma-separated option, blanks dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def say(line: str) -> None:
    """A progress line on stderr, so that stdout holds only the result."""
    print(line, file=sys.stderr, flush=True)


def add_result_options(p: argparse.ArgumentParser) -> None:
    """--work, --json and --out: the options of an evaluation that builds a library and
    reports figures (see `print_result`)."""
    p.add_argument("--work", type=Path, default=None, help="reuse this folder (files, library)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")


def print_result(
    args: argparse.Namespace,
    result: Mapping[str, object],
    table: str,
    row: Callable[[str, dict[str, Any]], str],
) -> int:
    """Write `result` to --out if given, then print it: one JSON object with --json, else
    `row(name, figures)` for each item of `result[table]`. Returns the exit status (0)."""
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print_json(result)
        return 0
    rows = result[table]
    assert isinstance(rows, dict)
    for name, figures in rows.items():
        print(row(name, figures))
    return 0
