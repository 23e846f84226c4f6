"""`folio eval adapter NAME`: base model and adapter side by side on held-out questions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.cli.common import Subcommands, config_for, print_json
from desktop.errors import AdapterError
from desktop.json_types import JSONObject

if TYPE_CHECKING:
    from desktop.adapters.eval_record import AdapterEvalResult, RateKey

ROWS: tuple[tuple[RateKey, str], ...] = (
    ("answer_rate", "answer rate (answerable)"),
    ("contains_gold", "answer contains gold"),
    ("cites_fact", "citation of the gold fact"),
    ("cites_gold_paragraph", "citation of the gold paragraph"),
    ("shown_cites_fact", "shown citation has the fact"),
    ("refusal", "refusal (unanswerable)"),
    ("compliance", "format compliance"),
    ("gold_retrieved", "gold paragraph retrieved"),
)


def add_parser(evals: Subcommands) -> None:
    from desktop.evaluate.adapter_items import DEFAULT_QUESTIONS, DEFAULT_SEED

    p = evals.add_parser(
        "adapter",
        help="compare the base model and an adapter on held-out questions",
        description="Ask held-out questions (XQuAD as a library, plus unanswerable "
        "variants without the gold paragraph; or a prompts file) with and without the "
        "adapter, and report format compliance, grounded accuracy and refusal.",
    )
    p.add_argument("name", help="adapter name (see `folio adapters list`) or .gguf path")
    p.add_argument("--prompts", type=Path, help="JSONL prompts with passages (instead of XQuAD)")
    p.add_argument("--xquad", type=Path, help="XQuAD folder (default ../shared/eval/xquad_en)")
    p.add_argument("--questions", type=int, default=DEFAULT_QUESTIONS, help="XQuAD questions")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="which XQuAD questions")
    p.add_argument("--no-cache", action="store_true", help="answer with the base model afresh")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_eval_adapter)


def _progress(label: str, done: int, total: int) -> None:
    end = "\n" if done == total else ""
    sys.stderr.write(f"\r{label}: {done}/{total} answered{end}")
    sys.stderr.flush()


def cmd_eval_adapter(args: argparse.Namespace) -> int:
    from desktop.adapters import find_adapter
    from desktop.config import Config
    from desktop.evaluate import adapter_items as ai
    from desktop.evaluate.adapter_eval import evaluate_adapter
    from desktop.evaluate.adapter_targets import judge, summary_line
    from desktop.session import Session
    from desktop.train import sidecar

    if args.questions < 1:
        raise AdapterError("--questions must be at least 1")
    user = config_for(args)
    where = user.locations
    info = find_adapter(args.name, where.adapter_dirs)
    if not info.readable:
        raise AdapterError(f"adapter '{info.name}' cannot be read: {info.problem}")
    format_regex = str(sidecar.read_sidecar(info.path).get("format_regex", ""))
    cache = ai.eval_cache_dir(where.cache_dir)
    if args.prompts:
        items = ai.prompts_items(args.prompts)
        library = cache / "prompts-library.sqlite"
        source = f"{len(items)} prompts from {args.prompts}"
    else:
        questions = ai.write_xquad_docs(args.xquad or ai.default_xquad_dir(), cache / "docs")
        items = ai.xquad_items(questions, args.questions, args.seed)
        library = cache / "xquad.sqlite"
        source = "XQuAD (en)"
    # The user's settings and models, on the evaluation's own library (never the user's);
    # the model writes (an adapter shapes written answers only).
    written = user.settings.with_changes(answer_mode="write")
    with Session(Config.resolve(written, user.locations, library)) as s:
        if not args.prompts:
            report = s.indexer.index([cache / "docs"])
            if report.added or report.updated:
                print(f"indexed {report.added + report.updated} XQuAD paragraphs", file=sys.stderr)
        settings: JSONObject = {
            "k": s.settings.k,
            "mode": s.settings.search_mode,
            "max_tokens": s.settings.max_answer_tokens,
        }
        result = evaluate_adapter(
            s.answerer,
            s.engine,
            info,
            items,
            format_regex,
            settings,
            cache,
            on_progress=None if args.json else _progress,
            use_cache=not args.no_cache,
        )
    result["source"] = source
    result["targets"] = [
        t.to_json() for t in judge(info.name, result["base"], result["with_adapter"])
    ]
    result["summary"] = summary_line(result)
    stored = sidecar.write_eval(info.path, result, where.user_adapters_dir)
    if args.json:
        print_json({k: v for k, v in result.items() if k != "answers"} | {"stored": str(stored)})
        return 0
    print_table(result)
    print(f"\nstored in {stored}")
    return 0


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def print_table(result: AdapterEvalResult) -> None:
    """The side-by-side table and the targets, as the CLI prints them."""
    b, a = result["base"], result["with_adapter"]
    name = result["adapter"]
    print(
        f"folio eval adapter {name}: {a['answerable']} answerable + {a['unanswerable']} "
        f"unanswerable questions from {result.get('source', '')}"
    )
    if a.get("leaky_skipped"):
        print(
            f"({a['leaky_skipped']} unanswerable variants skipped: another passage still "
            "holds the answer)"
        )
    width = max(len(label) for _, label in ROWS)
    print(f"  {'':<{width}}  {'base':>8}  {name:>12}")
    for key, label in ROWS:
        if a.get(key) is None and b.get(key) is None:
            continue
        print(f"  {label:<{width}}  {_pct(b.get(key)):>8}  {_pct(a.get(key)):>12}")
    targets = result.get("targets", [])
    if targets:
        print("targets:")
        for t in targets:
            mark = "MET   " if t["met"] else "MISSED"
            print(f"  {mark} {t['name']} {t['goal']}: {_pct(t['value'])} (base {_pct(t['base'])})")
