"""`folio eval beir DIR`: nDCG@10, recall@10/@100 and MRR@10 of each search mode."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from desktop.cli.common import Subcommands, print_json
from desktop.errors import FolioError


def add_parser(esub: Subcommands) -> None:
    p = esub.add_parser("beir", help="retrieval quality on a BEIR-format collection")
    p.add_argument("dataset", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    p.add_argument("--split", default="test", help="qrels split to score (default: test)")
    p.add_argument("--work", type=Path, default=None, help="reuse this folder (files, library)")
    p.add_argument("--tune", action="store_true", help="also search the RRF grid on this split")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    p.set_defaults(func=cmd_beir)


def cmd_beir(args: argparse.Namespace) -> int:
    from desktop.evaluate.beir import run_beir

    for name in ("corpus.jsonl", "queries.jsonl", f"qrels/{args.split}.tsv"):
        if not (args.dataset / name).is_file():
            raise FolioError(f"{args.dataset} is not a BEIR collection: {name} is missing")
    work = args.work or Path(tempfile.mkdtemp(prefix="folio-beir-"))
    result = run_beir(args.dataset, work, args.split, args.tune, say=_say)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print_json(result)
    else:
        modes = result["modes"]
        assert isinstance(modes, dict)
        for mode, m in modes.items():
            print(f"{mode:20s} " + "  ".join(f"{k} {v:.4f}" for k, v in m.items()))
    return 0


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
