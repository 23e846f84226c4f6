"""`folio eval ...`: answer and retrieval quality on public datasets.

Each evaluation lives in its own module exposing `add_parser(eval_subparsers)`; list it in
SUBCOMMANDS to register it.
"""

from __future__ import annotations

from typing import Any

from desktop.cli import eval_beir_cmd, eval_squad_cmd

SUBCOMMANDS = [eval_beir_cmd, eval_squad_cmd]


def add_parser(sub: Any) -> None:
    p = sub.add_parser("eval", help="measure retrieval and answer quality on a dataset")
    esub = p.add_subparsers(dest="eval", metavar="WHAT", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(esub)
