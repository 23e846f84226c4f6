"""Helpers shared by the CLI subcommands: the session of a command, and JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TypeAlias

from desktop.config import Config
from desktop.session import Session

# What each subcommand module's `add_parser` receives: the `add_subparsers()` of its parent.
# `_SubParsersAction` is the only name argparse (and typeshed) gives that object's type.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


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
