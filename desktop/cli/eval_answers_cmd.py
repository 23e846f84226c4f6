"""`folio eval answers FILE`: right answers and right citations, per configuration."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from desktop.cli.common import Subcommands, print_json
from desktop.errors import FolioError

DEFAULT_CONFIGS = "default,base,bullet-brief,extractive"


def add_parser(esub: Subcommands) -> None:
    p = esub.add_parser(
        "answers",
        help="answer correctness and citations on a SQuAD-format file, per configuration",
        description="Ask a SQuAD-format file's questions through the shipped answer path "
        "under each configuration, interleaved, and score the answers: gold answer held, "
        "citation of the gold paragraph, refusals, length, format, first-token time, and "
        "declines when the question's article is removed from the library.",
    )
    p.add_argument("file", type=Path, help="SQuAD v1.1-format JSON (e.g. XQuAD)")
    p.add_argument("--questions", type=int, default=200, help="how many, spread over articles")
    p.add_argument(
        "--configs",
        default=DEFAULT_CONFIGS,
        help="comma-separated: default (what a fresh install answers with), quote (Folio's "
        "quote), base (the model writes, no adapter), an adapter name, LABEL=PATH.gguf, "
        "extractive (the most similar sentence quoted: the bar); "
        f"default {DEFAULT_CONFIGS}",
    )
    p.add_argument(
        "--removed",
        default="default,base",
        help="configurations also asked with each question's article removed ('' for none)",
    )
    p.add_argument("--max-tokens", type=int, default=64, help="answer length cap")
    p.add_argument("--threads", type=int, default=0, help="model CPU threads (0: default)")
    p.add_argument("--work", type=Path, default=None, help="reuse this folder (files, library)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    p.set_defaults(func=cmd_answers)


def cmd_answers(args: argparse.Namespace) -> int:
    from desktop.evaluate.answers import run_answers

    if not args.file.is_file():
        raise FolioError(f"SQuAD file not found: {args.file}")
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    removed = [c.strip() for c in args.removed.split(",") if c.strip()]
    work = args.work or Path(tempfile.mkdtemp(prefix="folio-answers-"))
    try:
        result = run_answers(
            args.file, work, args.questions, configs, removed, args.max_tokens, args.threads,
            say=lambda line: print(line, file=sys.stderr, flush=True),
        )  # fmt: skip
    except ValueError as exc:
        raise FolioError(str(exc)) from None
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print_json(result)
        return 0
    rows = result["configs"]
    assert isinstance(rows, dict)
    for label, m in rows.items():
        print(f"{label}: " + ", ".join(f"{k} {v}" for k, v in m.items() if k != "first_token_ms"))
    return 0
