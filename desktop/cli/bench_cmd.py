"""`folio bench rag|retrieval|index|startup|memory|adapters|ui|all`: speed on this machine.

Every figure is measured beside its naive baseline in the same run, with the machine's
load. `--out DIR` writes results.json, report.md (the targets table) and PNG plots.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.bench.squad_files import DEFAULT_SQUAD
from desktop.cli.common import Subcommands, print_json
from desktop.errors import FolioError

if TYPE_CHECKING:
    import numpy as np

    from desktop.bench.results import BenchResults, RetrievalResult, ServedResult
    from desktop.bench.workload import Workload

PARTS = ("rag", "retrieval", "index", "startup", "memory", "delete")


def add_parser(sub: Subcommands) -> None:
    p = sub.add_parser("bench", help="measure Folio's speed on this machine")
    bsub = p.add_subparsers(dest="bench", metavar="WHAT", required=True)
    for name, text in (
        ("rag", "time to first token beside the naive pipeline, each lever alone; tokens/s"),
        ("retrieval", "search latency and recall at 10k/100k/1M chunks, beside naive"),
        ("index", "indexing beside a naive fastembed loop: chunks/s, drop to first keyword hit"),
        ("startup", "cold start to a shown window and to model ready"),
        ("memory", "peak RSS searching and answering over the largest --sizes library"),
        ("delete", "removing a 100k-chunk folder, what is left behind, compact"),
        ("all", "every part above, one report"),
    ):
        b = bsub.add_parser(name, help=text)
        _common(b)
        b.set_defaults(func=cmd_bench, parts=PARTS if name == "all" else (name,))
        if name == "rag":
            b.add_argument(
                "--engine", default=None, metavar="URL", help="also answer through this server"
            )
            b.add_argument("--clients", type=int, default=4, help="concurrent clients (--engine)")
    a = bsub.add_parser("adapters", help="adapter switch latency vs reloading the model")
    a.add_argument("--runs", type=int, default=20)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_adapters)
    t = bsub.add_parser("train", help="LoRA training throughput: the recipe before and now")
    t.add_argument("--examples", type=Path, required=True, help="JSONL training examples")
    t.add_argument("--steps", type=int, default=6, help="timed steps per recipe")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_train_speed)
    u = bsub.add_parser("ui", help="event-loop latency of the window while a folder indexes")
    u.add_argument("--files", type=int, default=500)
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=cmd_ui)


def _common(b: argparse.ArgumentParser) -> None:
    b.add_argument(
        "--workload",
        action="append",
        default=None,
        help="sample, squad:FILE or beir:DIR (repeatable; default: sample)",
    )
    b.add_argument("--questions", type=int, default=20, help="questions per workload")
    b.add_argument("--runs", type=int, default=1, help="passes over the questions (rag)")
    b.add_argument("--threads", type=int, default=0, help="model CPU threads (0: default)")
    b.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="padded library sizes (retrieval; memory uses the largest)",
    )
    b.add_argument(
        "--seed-library",
        type=Path,
        default=None,
        help="library whose chunks seed the padded ones (default: the workload's)",
    )
    b.add_argument(
        "--index-files",
        default="200,5000",
        help="folder sizes dropped, one SQuAD paragraph a file (index; comma-separated)",
    )
    b.add_argument(
        "--squad",
        type=Path,
        default=DEFAULT_SQUAD,
        help="SQuAD v1.1 training file whose paragraphs become the files (index)",
    )
    b.add_argument(
        "--naive-chunks",
        type=int,
        default=600,
        help="chunks the naive loops embed at most, for their rate (index; 0: all)",
    )
    b.add_argument("--work", type=Path, default=None, help="cache folder (default: user cache)")
    b.add_argument("--out", type=Path, default=None, help="write the report here")
    b.add_argument("--json", action="store_true", help="print one JSON object")


def _served(
    args: argparse.Namespace, workload: Workload, libraries: Mapping[str, Path]
) -> ServedResult:
    """Local beside the server at --engine, 1 and --clients clients (desktop/bench/served.py)."""
    from desktop.bench.served import bench_served
    from desktop.cli.engines_cmd import warn_about

    if args.clients < 1:
        raise FolioError("--clients must be at least 1")
    warn_about(args.engine)
    counts = (1, args.clients) if args.clients > 1 else (1,)
    library = libraries[workload.name]
    return bench_served(workload, library, args.engine, counts, threads=args.threads)


def _work(args: argparse.Namespace) -> Path:
    if args.work is not None:
        return Path(args.work)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("folio")) / "bench"


def _say(line: str) -> None:
    print(f"[bench] {line}", file=sys.stderr, flush=True)


def cmd_bench(args: argparse.Namespace) -> int:
    from desktop.bench.workload import make_workload

    work = _work(args)
    work.mkdir(parents=True, exist_ok=True)
    specs = args.workload or ["sample"]
    try:
        workloads = [make_workload(spec, work, args.questions) for spec in specs]
    except (ValueError, OSError, KeyError) as exc:
        raise FolioError(f"cannot prepare the workload: {exc}") from None
    results: BenchResults = {"load_at_start": [round(x, 2) for x in os.getloadavg()]}
    libraries = {w.name: work / _slug(w.name) / "library.sqlite" for w in workloads}
    for part in args.parts:
        _say(f"{part} ...")
        if part == "rag" and getattr(args, "engine", None):
            results["rag_served"] = _served(args, workloads[0], libraries)
        elif part == "rag":
            from desktop.bench.rag import bench_rag

            results["rag"] = {
                w.name: bench_rag(w, libraries[w.name], runs=args.runs, threads=args.threads)
                for w in workloads
            }
        elif part == "retrieval":
            results["retrieval"] = _retrieval(args, work, workloads[0], libraries)
        elif part == "index":
            from desktop.bench.system import bench_index

            sizes = tuple(int(x) for x in args.index_files.split(",") if x.strip())
            results["index"] = bench_index(args.squad, work, sizes, args.naive_chunks)
        elif part == "startup":
            from desktop.bench.system import bench_startup

            results["startup"] = bench_startup(work / "startup-library.sqlite")
        elif part == "delete":
            from desktop.bench.deletes import bench_delete

            padded = _padded(args, work, workloads[0], libraries, (100_000,))
            results["delete"] = bench_delete(padded[100_000], work)
        elif part == "memory":
            from desktop.bench.system import bench_memory

            largest = max(_sizes(args))  # the 1M library by default: issue 20's target
            padded = _padded(args, work, workloads[0], libraries, (largest,))
            results["memory"] = bench_memory(padded[largest], workloads[0].questions[:5], work)
    if args.out:
        from desktop.bench.report import write_report

        write_report(results, args.out)
        _say(f"report written to {args.out}")
    if args.json:
        print_json(results)
    else:
        from desktop.bench.report import markdown

        print(markdown(results))
    return 0


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "-" for c in name)


def _padded(
    args: argparse.Namespace,
    work: Path,
    workload: Workload,
    libraries: dict[str, Path],
    sizes: tuple[int, ...],
) -> dict[int, Path]:
    """The padded libraries of these sizes, built (once) from the seed library's chunks."""
    from desktop.bench.padded import build_padded, padded_path

    seed_lib = args.seed_library or libraries[workload.name]
    tag = f"{_slug(seed_lib.parent.name)}3000"
    paths = {n: padded_path(work, n, tag) for n in sizes}
    missing = [n for n, p in paths.items() if not p.with_suffix(".done").exists()]
    if missing:
        seeds, texts = _seeds(seed_lib, workload)
        for n in missing:
            build_padded(paths[n], n, seeds, texts, _model_id(), say=_say)
    return paths


def _seeds(seed_lib: Path, workload: Workload) -> tuple[np.ndarray, list[str]]:
    from desktop.library import vectors
    from desktop.library.columns import as_int, as_str
    from desktop.session import Session

    with Session.from_environment(seed_lib) as s:
        if not seed_lib.exists() or s.library.counts()["chunks"] == 0:
            s.indexer.index([workload.folder])
        rows = s.library.db.execute("SELECT id, text FROM chunks ORDER BY id LIMIT 3000").fetchall()
        found = vectors.vectors_of(s.library.db, [as_int(r[0]) for r in rows])
    import numpy as np

    ids = [as_int(r[0]) for r in rows if as_int(r[0]) in found]
    text_of = {as_int(r[0]): as_str(r[1]) for r in rows}
    return np.stack([found[i] for i in ids]), [text_of[i] for i in ids]


def _model_id() -> str:
    from desktop.models.catalog import load_catalog

    return load_catalog().default("embedding").id


def _retrieval(
    args: argparse.Namespace, work: Path, workload: Workload, libraries: dict[str, Path]
) -> RetrievalResult:
    from desktop.bench.retrieval import bench_retrieval
    from desktop.session import Session

    sizes = _sizes(args)
    padded = _padded(args, work, workload, libraries, sizes)
    from desktop.evaluate.naive import bench_config

    with Session(bench_config(work / "embedder-only.sqlite", args.threads)) as s:
        return bench_retrieval(padded, s.embedder, workload.questions, say=_say)


def _sizes(args: argparse.Namespace) -> tuple[int, ...]:
    """The padded library sizes of --sizes."""
    sizes = tuple(int(x) for x in args.sizes.split(",") if x.strip())
    if not sizes or min(sizes) < 1:
        raise FolioError(f"--sizes wants chunk counts, got {args.sizes!r}")
    return sizes


def cmd_adapters(args: argparse.Namespace) -> int:
    from desktop.bench.adapters import bench_adapters
    from desktop.cli.common import session_for

    with session_for(args) as s:
        from desktop.models.installed import require_local

        model_path = require_local(s.model_spec("chat"), s.locations.models_search_path)
    _emit(bench_adapters(model_path, runs=args.runs), args.json)
    return 0


def cmd_train_speed(args: argparse.Namespace) -> int:
    from desktop.bench.train_speed import bench_train
    from desktop.cli.common import session_for
    from desktop.models.installed import require_local
    from desktop.train.hf_base import require_training

    require_training()
    with session_for(args) as s:
        model_path = require_local(s.model_spec("chat"), s.locations.models_search_path)
    _emit(bench_train(model_path, args.examples, args.steps), args.json)
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from desktop.cli.common import config_for
    from desktop.ui.bench_ui import bench_ui  # Qt only loads for this one subcommand

    _emit(bench_ui(files=args.files, user=config_for(args).locations), args.json)
    return 0


def _emit(result: Mapping[str, object], as_json: bool) -> None:
    if as_json:
        print_json(result)
    else:
        print(json.dumps(result, indent=2))
