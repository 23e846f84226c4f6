"""`folio bench retrieval`: the whole search at 10k, 100k and 1M chunks.

Libraries padded to each size (`desktop.bench.padded`) are searched with real questions.
Per size: query embedding, the vector leg (shipped: binary prefilter, int8, exact floats),
the keyword leg (FTS5 BM25), fusion, and the whole search (k=8, embedding included); the
naive vector leg beside it (sqlite-vec's exact float scan, Folio's search before schema
3); recall@10 of the shipped vector leg against exact search; and, if the `usearch`
package is installed, an HNSW index (a maintained ANN library) on the same vectors.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop.bench import vec0_baseline
from desktop.evaluate.metrics import overlap_at
from desktop.evaluate.stats import summarize
from desktop.library import vectors

if TYPE_CHECKING:
    import apsw

    from desktop.bench.results import HnswResult, RetrievalResult, SizeResult
    from desktop.embed.base import Embedder

SIZES = (10_000, 100_000, 1_000_000)
# The HNSW comparison is built at these sizes only: its build took 6 minutes at 100k on a
# busy 2-core machine, so 1M would take an hour.
ANN_MAX_SIZE = 100_000
Say = Callable[[str], None]


def _ms(f: Callable[[], object]) -> float:
    t = time.perf_counter()
    f()
    return (time.perf_counter() - t) * 1000


def bench_size(
    path: Path, embedder: Embedder, queries: Sequence[str], ann: bool = True
) -> SizeResult:
    """Every figure for one padded library."""
    from desktop.library.search import Searcher
    from desktop.library.store import Library

    with Library(path) as lib:
        n = vectors.count(lib.db)
        vec0_baseline.build_vec0_baseline(lib.db, embedder.dim)
        searcher = Searcher(lib, embedder)
        first = _ms(lambda: searcher.search(queries[0], k=8))  # loads the codes
        stages: dict[str, list[float]] = {"embed": [], "vector": [], "keyword": [], "fuse": []}
        total, naive_vec, recall, loads = [], [], [], []
        qvecs = [embedder.embed_query(q) for q in queries]
        for q, qv in zip(queries, qvecs, strict=True):
            loads.append(os.getloadavg()[0])
            result = searcher.search(q, k=8)
            for stage in stages:
                stages[stage].append(result.timings_ms.get(stage, 0.0))
            total.append(result.timings_ms["total"])
            t = time.perf_counter()
            exact = vec0_baseline.nearest_vec0(lib.db, qv, 10)
            naive_vec.append((time.perf_counter() - t) * 1000)
            found = vectors.nearest(lib.db, qv, 10)
            recall.append(overlap_at([c for c, _ in found], [c for c, _ in exact], 10))
        out: SizeResult = {
            "chunks": n,
            "first_search_ms": round(first, 1),
            "search_ms": summarize(total),
            "stages_ms_p50": {s: round(statistics.median(v), 2) for s, v in stages.items()},
            "naive_vector_ms": summarize(naive_vec),
            "naive_search_ms_p50": round(
                statistics.median(
                    e + nv + k + f
                    for e, nv, k, f in zip(
                        stages["embed"], naive_vec, stages["keyword"], stages["fuse"], strict=True
                    )
                ),
                2,
            ),
            "recall_at_10": round(statistics.fmean(recall), 4),
            "recall_at_10_min": round(min(recall), 2),
            "load_1min_median": round(statistics.median(loads), 2),
        }
        if ann:
            out["hnsw"] = _hnsw(lib.db, qvecs)
    return out


def _hnsw(db: apsw.Connection, qvecs: Sequence[np.ndarray]) -> HnswResult | None:
    """The same vectors in a usearch HNSW index (int8), if usearch is installed."""
    try:
        from usearch.index import Index
    except ImportError:
        return None
    ids, matrix = vec0_baseline.all_vectors(db)
    index = Index(ndim=matrix.shape[1], metric="cos", dtype="i8", connectivity=16)
    t = time.perf_counter()
    index.add(ids, matrix, threads=2)
    build_s = time.perf_counter() - t
    times, recall = [], []
    for qv in qvecs:
        t = time.perf_counter()
        found = index.search(qv, 10, exact=False)
        times.append((time.perf_counter() - t) * 1000)
        exact = vec0_baseline.nearest_vec0(db, qv, 10)
        recall.append(overlap_at([int(k) for k in found.keys], [c for c, _ in exact], 10))
    return {
        "build_s": round(build_s, 1),
        "search_ms": summarize(times),
        "recall_at_10": round(statistics.fmean(recall), 4),
        "memory_mb": round(index.memory_usage / 2**20, 1),
    }


def bench_retrieval(
    libraries: dict[int, Path],
    embedder: Embedder,
    queries: Sequence[str],
    ann: bool = True,
    say: Say | None = None,
) -> RetrievalResult:
    """Figures for each padded library, keyed by its size."""
    out: RetrievalResult = {"queries": len(queries), "sizes": {}}
    for size, path in sorted(libraries.items()):
        if say is not None:
            say(f"retrieval at {size} chunks")
        out["sizes"][str(size)] = bench_size(
            path, embedder, queries, ann=ann and size <= ANN_MAX_SIZE
        )
    return out
