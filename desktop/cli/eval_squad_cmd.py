"""`folio eval squad FILE`: cited answers through the real answer path, beside naive."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from desktop.cli.common import Subcommands, print_json
from desktop.errors import FolioError


def add_parser(esub: Subcommands) -> None:
    p = esub.add_parser("squad", help="answer quality on a SQuAD-format file (e.g. XQuAD)")
    p.add_argument("file", type=Path, help="SQuAD v1.1-format JSON")
    p.add_argument("--questions", type=int, default=0, help="ask this many (default: all)")
    p.add_argument(
        "--pipelines",
        default="folio,naive",
        help="comma-separated: folio, naive, budget (naive + context budget), q8 (naive + "
        "Q8_0 model), wide (folio with the wider budget shipped before); default folio,naive",
    )
    p.add_argument("--max-tokens", type=int, default=64, help="answer length cap")
    p.add_argument(
        "--retrieval",
        action="store_true",
        help="score retrieval only (each question's paragraph is its relevant document)",
    )
    p.add_argument("--threads", type=int, default=0, help="model CPU threads (0: default)")
    p.add_argument("--work", type=Path, default=None, help="reuse this folder (files, library)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    p.set_defaults(func=cmd_squad)


def cmd_squad(args: argparse.Namespace) -> int:
    from desktop.evaluate.squad import PIPELINES, run_squad

    if not args.file.is_file():
        raise FolioError(f"SQuAD file not found: {args.file}")
    pipelines = [p.strip() for p in args.pipelines.split(",") if p.strip()]
    bad = [p for p in pipelines if p not in PIPELINES]
    if bad:
        raise FolioError(f"unknown pipeline {bad[0]!r}; choose from {', '.join(PIPELINES)}")
    try:
        json.loads(args.file.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FolioError(f"{args.file} is not a SQuAD-format JSON file ({exc})") from None
    work = args.work or Path(tempfile.mkdtemp(prefix="folio-squad-"))
    if args.retrieval:
        from desktop.evaluate.beir import run_squad_retrieval

        scored = run_squad_retrieval(args.file, work, say=_say)
        if args.out:
            args.out.write_text(json.dumps(scored, indent=2) + "\n")
        if args.json:
            print_json(scored)
        else:
            print(json.dumps(scored["modes"], indent=2))
        return 0
    result = run_squad(
        args.file, work, args.questions, pipelines, args.max_tokens, say=_say, threads=args.threads
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print_json(result)
    else:
        pipes = result["pipelines"]
        assert isinstance(pipes, dict)
        for name, m in pipes.items():
            print(f"{name:8s} " + "  ".join(f"{k} {v}" for k, v in m.items()))
    return 0


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
