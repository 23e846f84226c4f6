"""`folio eval beir DIR`: nDCG@10, recall@10/@100 and MRR@10 of each search mode."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from desktop.cli.common import Subcommands, add_result_options, print_result, say
from desktop.errors import FolioError


def add_parser(esub: Subcommands) -> None:
    p = esub.add_parser("beir", help="retrieval quality on a BEIR-format collection")
    p.add_argument("dataset", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    p.add_argument("--split", default="test", help="qrels split to score (default: test)")
    p.add_argument("--tune", action="store_true", help="also search the RRF grid on this split")
    add_result_options(p)
    p.set_defaults(func=cmd_beir)


def cmd_beir(args: argparse.Namespace) -> int:
    from desktop.evaluate.beir import run_beir

    for name in ("corpus.jsonl", "queries.jsonl", f"qrels/{args.split}.tsv"):
        if not (args.dataset / name).is_file():
            raise FolioError(f"{args.dataset} is not a BEIR collection: {name} is missing")
    work = args.work or Path(tempfile.mkdtemp(prefix="folio-beir-"))
    result = run_beir(args.dataset, work, args.split, args.tune, say=say)
    return print_result(args, result, "modes", mode_line)


def mode_line(mode: str, figures: dict[str, Any]) -> str:
    """One search mode's retrieval figures on a line."""
    return f"{mode:20s} " + "  ".join(f"{k} {v:.4f}" for k, v in figures.items())
