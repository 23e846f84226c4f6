"""`folio bench rag | adapters | ui`: speed figures measured on this machine."""

from __future__ import annotations

import argparse
import json
from typing import Any

from desktop.cli.common import print_json


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bench", help="measure Folio's speed on this machine")
    bsub = p.add_subparsers(dest="bench", metavar="WHAT", required=True)
    r = bsub.add_parser("rag", help="search latency, time to first token, tokens/s")
    r.add_argument("--runs", type=int, default=5)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_rag)
    a = bsub.add_parser("adapters", help="adapter switch latency vs reloading the model")
    a.add_argument("--runs", type=int, default=20)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_adapters)
    u = bsub.add_parser("ui", help="event-loop latency of the window while a folder indexes")
    u.add_argument("--files", type=int, default=500)
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=cmd_ui)


def _emit(result: dict[str, object], as_json: bool) -> None:
    if as_json:
        print_json(result)
    else:
        print(json.dumps(result, indent=2))


def cmd_rag(args: argparse.Namespace) -> int:
    from desktop.bench.rag import bench_rag
    from desktop.cli.common import config_for

    _emit(bench_rag(config_for(args), runs=args.runs), args.json)
    return 0


def cmd_adapters(args: argparse.Namespace) -> int:
    from desktop.bench.adapters import bench_adapters
    from desktop.cli.common import session_for

    with session_for(args) as s:
        from desktop.models.catalog import require_local

        model_path = require_local(s.model_spec("chat"), s.locations.models_search_path)
    _emit(bench_adapters(model_path, runs=args.runs), args.json)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from desktop.cli.common import config_for
    from desktop.ui.bench_ui import bench_ui  # Qt only loads for this one subcommand

    _emit(bench_ui(files=args.files, user=config_for(args).locations), args.json)
    return 0
