"""`folio eval answers FILE`: right answers and right citations, per configuration."""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path

from desktop.cli.common import Subcommands, add_command, comma_list, print_result, say
from desktop.cli.eval_squad_cmd import add_answer_options, check_squad_file
from desktop.errors import FolioError
from desktop.json_types import JSONObject

DEFAULT_CONFIGS = "default,base,bullet-brief,extractive"


def add_parser(esub: Subcommands) -> None:
    p = add_command(esub, "answers", cmd_answers)
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
    p.add_argument(
        "--answers", type=Path, help="also write every answer here, one JSON object a line"
    )
    add_answer_options(p)


def cmd_answers(args: argparse.Namespace) -> int:
    """Answer correctness and citations on a SQuAD-format file, per configuration.

    Ask a SQuAD-format file's questions through the shipped answer path under each
    configuration, interleaved, and score the answers: gold answer held, citation of the
    gold paragraph, refusals, length, format, first-token time, and declines when the
    question's article is removed from the library.
    """
    from desktop.evaluate.answers import run_answers

    check_squad_file(args.file)
    configs, removed = comma_list(args.configs), comma_list(args.removed)
    work = args.work or Path(tempfile.mkdtemp(prefix="folio-answers-"))
    out = args.answers.open("w", encoding="utf-8") if args.answers else None
    with out or contextlib.nullcontext():

        def record(row: JSONObject) -> None:
            if out is not None:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                out.flush()

        try:
            result = run_answers(
                args.file, work, args.questions, configs, removed, args.max_tokens,
                args.threads, say=say, record=record,
            )  # fmt: skip
        except ValueError as exc:
            raise FolioError(str(exc)) from None
    return print_result(
        args,
        result,
        "configs",
        lambda label, m: (
            f"{label}: " + ", ".join(f"{k} {v}" for k, v in m.items() if k != "first_token_ms")
        ),
    )
