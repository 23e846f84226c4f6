"""`folio eval ...`: groups the evaluation subcommands, each from its own module."""

from __future__ import annotations

from typing import Any

from desktop.cli import eval_adapter_cmd

# Each module exposes `add_parser(eval_subparsers)`; add new evaluations here.
SUBCOMMANDS = [eval_adapter_cmd]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("eval", help="measure Folio on held-out data")
    evals = p.add_subparsers(dest="eval_command", metavar="EVAL", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(evals)
