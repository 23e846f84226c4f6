"""`folio eval ...`: retrieval, cited-answer and style-adapter quality on held-out data.

Each evaluation lives in its own module exposing `add_parser(eval_subparsers)`; list it in
SUBCOMMANDS to register it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from desktop.cli import eval_adapter_cmd, eval_answers_cmd, eval_beir_cmd, eval_squad_cmd

if TYPE_CHECKING:
    from desktop.cli.common import Subcommands

SUBCOMMANDS = [eval_adapter_cmd, eval_answers_cmd, eval_beir_cmd, eval_squad_cmd]


def add_parser(sub: Subcommands) -> None:
    p = sub.add_parser(
        "eval", help="measure retrieval, answer and adapter quality on held-out data"
    )
    esub = p.add_subparsers(dest="eval", metavar="WHAT", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(esub)
