"""`folio eval squad FILE`: cited answers through the real answer path, beside naive."""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
from pathlib import Path

from desktop.cli.common import Subcommands, add_result_options, comma_list, print_result, say
from desktop.cli.eval_beir_cmd import mode_line
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
    p.add_argument(
        "--retrieval",
        action="store_true",
        help="score retrieval only (each question's paragraph is its relevant document)",
    )
    p.add_argument(
        "--articles", type=int, default=0, help="with --retrieval: this many articles (0: all)"
    )
    p.add_argument(
        "--tune",
        action="store_true",
        help="with --retrieval: also score the heading-weight and fusion grid (train sets only)",
    )
    add_answer_options(p)
    p.set_defaults(func=cmd_squad)


def add_answer_options(p: argparse.ArgumentParser) -> None:
    """--max-tokens and --threads, then the result's options: those of an evaluation that
    asks the chat model and reports its figures."""
    p.add_argument("--max-tokens", type=int, default=64, help="answer length cap")
    p.add_argument("--threads", type=int, default=0, help="model CPU threads (0: default)")
    add_result_options(p)


def check_squad_file(path: Path) -> None:
    """Raises FolioError unless `path` is a readable SQuAD-format JSON file."""
    if not path.is_file():
        raise FolioError(f"SQuAD file not found: {path}")
    try:
        raw = path.read_bytes()
        json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FolioError(f"{path} is not a SQuAD-format JSON file ({exc})") from None


def cmd_squad(args: argparse.Namespace) -> int:
    from desktop.evaluate.squad import PIPELINES, run_squad

    check_squad_file(args.file)
    pipelines = comma_list(args.pipelines)
    bad = [p for p in pipelines if p not in PIPELINES]
    if bad:
        raise FolioError(f"unknown pipeline {bad[0]!r}; choose from {', '.join(PIPELINES)}")
    work = args.work or Path(tempfile.mkdtemp(prefix="folio-squad-"))
    if args.retrieval:
        from desktop.evaluate.beir import run_squad_retrieval

        scored = run_squad_retrieval(args.file, work, say, args.articles, args.questions, args.tune)
        return print_result(args, scored, "modes", mode_line)
    result = run_squad(
        args.file, work, args.questions, pipelines, args.max_tokens, say=say, threads=args.threads
    )
    return print_result(
        args,
        result,
        "pipelines",
        lambda name, m: f"{name:8s} " + "  ".join(f"{k} {v}" for k, v in m.items()),
    )
