"""Whole-process benchmarks: indexing, cold start and peak memory, each child a fresh
process (`desktop.bench.child`) so its start-up and RSS are its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.json_types import as_object

if TYPE_CHECKING:
    from desktop.bench.results import (
        Figures,
        IndexResult,
        IndexSize,
        MemoryResult,
        StartupFigures,
        StartupResult,
    )

CHILD_TIMEOUT_S = 1800


def _figures(value: object, where: str) -> Figures:
    """A child step's JSON output narrowed to what every step prints: numbers by name."""
    figures: Figures = {}
    for key, number in as_object(value, where).items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValueError(f"{where}: {key} is not a number")
        figures[key] = number
    return figures


def run_child(*args: str, env: dict[str, str] | None = None) -> Figures:
    """Run one `desktop.bench.child` step and return its JSON.

    Raises:
        RuntimeError: the child failed (its stderr's last lines say why).
    """
    full_env = dict(os.environ, **(env or {}))
    full_env.setdefault("QT_QPA_PLATFORM", "offscreen")
    result = subprocess.run(
        [sys.executable, "-m", "desktop.bench.child", *args],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        env=full_env,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"benchmark step {args[:2]} failed: {tail}")
    return _figures(
        json.loads(result.stdout.strip().splitlines()[-1]), f"benchmark step {args[:2]}"
    )


def bench_index(
    squad: Path, work: Path, sizes: tuple[int, ...] = (200, 5000), naive_max_chunks: int = 600
) -> IndexResult:
    """For each size, that many SQuAD training paragraphs written as files into a temporary
    folder (`desktop.bench.squad_files`), indexed by Folio (timed from the drop to the first
    keyword hit, to all text searchable, to every vector), then the same chunks through
    the naive loop in the same run: stock fastembed, and Folio's quiet session.

    Args:
        naive_max_chunks: the naive loops embed at most this many of the chunks (0: all);
            their chunks/s is a rate, and at 5,000 files they would take most of an hour.
    """
    from desktop.bench.squad_files import write_files

    out: dict[str, IndexSize] = {}
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix=f"index-{n}-", dir=work) as tmp:
            folder = Path(tmp) / "dropped"
            write_files(squad, folder, n)
            library = Path(tmp) / "index-bench.sqlite"
            loads = [os.getloadavg()[0]]
            folio = run_child("index", "folio", str(folder), str(library))
            loads.append(os.getloadavg()[0])
            cap = str(naive_max_chunks)
            naive = run_child("index", "naive", str(folder), str(library), cap)
            loads.append(os.getloadavg()[0])
            quiet = run_child("index", "naive-quiet", str(folder), str(library), cap)
            loads.append(os.getloadavg()[0])
        out[str(n)] = {
            "files": n,
            "folio": folio,
            "naive": naive,
            "naive_quiet": quiet,
            "ratio_chunks_per_s": round(folio["chunks_per_s"] / naive["chunks_per_s"], 3)
            if naive["chunks_per_s"]
            else None,
            "load_1min": [round(x, 2) for x in loads],
        }
    return {"squad": str(squad), "sizes": out}


def bench_startup(library: Path, runs: int = 3) -> StartupResult:
    """Cold start to a shown window and to model ready: Folio (model loads after the
    window) beside naive (model first), alternating."""
    out: dict[str, list[Figures]] = {"folio": [], "naive": []}
    loads = []
    for _ in range(runs):
        for kind in ("folio", "naive"):
            loads.append(os.getloadavg()[0])
            out[kind].append(run_child("startup", kind, str(library), repr(time.time())))

    def median(kind: str, key: str) -> float:
        values = sorted(r[key] for r in out[kind] if key in r)
        return values[len(values) // 2] if values else float("nan")

    def figures(kind: str) -> StartupFigures:
        return {
            "window_shown_s": median(kind, "window_shown_s"),
            "model_ready_s": median(kind, "model_ready_s"),
            "runs": len(out[kind]),
        }

    return {
        "folio": figures("folio"),
        "naive": figures("naive"),
        "load_1min": round(sorted(loads)[len(loads) // 2], 2),
    }


def bench_memory(library: Path, questions: list[str], work: Path) -> MemoryResult:
    """Peak RSS with `library` open and answering: Folio beside the naive pipeline."""
    qfile = Path(work) / "memory-questions.json"
    qfile.write_text(json.dumps(questions))
    load = os.getloadavg()[0]
    return {
        "folio": run_child("memory", "folio", str(library), str(qfile)),
        "naive": run_child("memory", "naive", str(library), str(qfile)),
        "load_1min": round(load, 2),
    }
