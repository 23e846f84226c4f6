"""`folio bench retrieval`: the whole search at 10k, 100k and 1M chunks.

Libraries padded to each size (`desktop.bench.padded`) are searched with real questions.
Per size: query embedding, the vector leg (shipped: the int8 codes of the probed cells, read
from sqlite-vec's blocks and scored in numpy, then the exact floats of the best; beside it
the same cells scored by vec0's own KNN), the keyword leg (FTS5 BM25), fusion, and the whole search
(k=8, embedding included); the same scoped to a folder of 1 % of the chunks; the naive
vector leg beside it (an exact scan of every float in SQLite); schema 4's numpy path
(codes loaded into the process, `desktop.bench.numpy_baseline`); recall@10 of each against
exact search; the first search of fresh processes (`desktop.bench.child search`) with
their peak RSS, also with the library dropped from the OS page cache first (where the OS
allows: as after a reboot); and, if the `usearch` package is installed, an HNSW index.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop.bench import numpy_baseline, vec0_baseline
from desktop.evaluate.metrics import overlap_at
from desktop.evaluate.stats import summarize
from desktop.library import vector_search, vectors
from desktop.library.db import library_files
from desktop.library.warm import read_ahead

if TYPE_CHECKING:
    import apsw

    from desktop.bench.results import HnswResult, RetrievalResult, SizeResult
    from desktop.embed.base import Embedder
    from desktop.library.store import Library

SIZES = (10_000, 100_000, 1_000_000)
# The HNSW comparison is built at these sizes only: its build took 6 minutes at 100k on a
# busy 2-core machine, so 1M would take an hour.
ANN_MAX_SIZE = 100_000
Say = Callable[[str], None]


def can_evict() -> bool:
    """Whether this OS lets a process drop a file's pages (posix_fadvise: Linux, BSDs)."""
    return hasattr(os, "posix_fadvise")


def evict(path: Path) -> None:
    """Drop the library's clean pages (and its WAL's) from the OS page cache, without
    privileges: the next reads come from the disk."""
    for part in library_files(path):
        if part.exists():
            fd = os.open(part, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def _ms(f: Callable[[], object]) -> float:
    t = time.perf_counter()
    f()
    return (time.perf_counter() - t) * 1000


def scoped_folder(lib: Library) -> int:
    """A second folder holding every 100th document of a padded library (made once): the
    folder-scoped search looks for 1 % of the chunks among the other 99 %."""
    from desktop.library.columns import as_int

    path = str(lib.path.parent / "padded-part")
    row = lib.db.execute("SELECT id FROM folders WHERE path = ?", (path,)).fetchone()
    if row is not None:
        return as_int(row[0])
    with lib.db:
        lib.db.execute("INSERT INTO folders(path, added_at) VALUES (?, 0)", (path,))
        folder = int(lib.db.last_insert_rowid())
        docs = [as_int(r[0]) for r in lib.db.execute("SELECT id FROM documents WHERE id % 100 = 0")]
        lib.db.execute("UPDATE documents SET folder_id = ? WHERE id % 100 = 0", (folder,))
        for doc in docs:
            vectors.refolder_document(lib.db, doc)
    return folder


def _fresh(
    kind: str, path: Path, queries: Sequence[str], folder: int | None = None, cold: bool = False
) -> dict:
    """The first search in fresh processes (`desktop.bench.child search`), medians; `cold`:
    with the library's pages dropped from the OS page cache before each (as after a
    reboot; `evict`)."""
    from desktop.bench.system import run_child

    runs = []
    for q in queries:
        if cold:
            evict(path)
        runs.append(run_child("search", kind, str(path), q, *([str(folder)] if folder else [])))
    return {
        key: round(statistics.median(r[key] for r in runs), 1)
        for key in ("first_search_ms", "vector_ms", "library_open_ms", "setup_ms")
    } | {"peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "runs": len(runs)}


def bench_size(
    path: Path,
    embedder: Embedder,
    queries: Sequence[str],
    ann: bool = True,
    fresh_runs: int = 3,
) -> SizeResult:
    """Every figure for one padded library: sqlite-vec (shipped) beside schema 4's numpy
    path and the exact scan, in this process and in fresh ones."""
    from desktop.library.search import Searcher
    from desktop.library.store import Library

    with Library(path) as lib:
        n = vectors.count(lib.db)
        folder = scoped_folder(lib)
        # Warm means warm: the file is read into the OS page cache first, as the window
        # reads a library ahead (desktop/library/warm.py). The cold figures of an earlier
        # size or run evict it, and without this the "warm" searches read chunk texts from
        # the disk: at 100k the whole search's p50 was 25.6-29.2 ms in 15 of 18 runs
        # against 17.6-18.4 ms in the other 3, the 200 texts the keyword leg reads taking
        # 10-15 ms instead of 2-4 (December 8). The cold figures come from fresh
        # processes below.
        t = time.perf_counter()
        read_ahead(path, limit=1 << 62)
        page_cache_read_s = time.perf_counter() - t
        searcher = Searcher(lib, embedder)
        first = _ms(lambda: searcher.search(queries[0], k=8))
        stages: dict[str, list[float]] = {"embed": [], "vector": [], "keyword": [], "fuse": []}
        total, naive_vec, recall, loads = [], [], [], []
        scoped_total, scoped_recall, np_vec, np_recall = [], [], [], []
        knn_vec, knn_recall = [], []  # the probed cells scored by vec0's own KNN
        qvecs = [embedder.embed_query(q) for q in queries]
        np_first = _ms(lambda: numpy_baseline.nearest(lib.db, qvecs[0], 8))  # loads codes
        for q, qv in zip(queries, qvecs, strict=True):
            loads.append(os.getloadavg()[0])
            result = searcher.search(q, k=8)
            for stage in stages:
                stages[stage].append(result.timings_ms.get(stage, 0.0))
            total.append(result.timings_ms["total"])
            t = time.perf_counter()
            exact = vector_search.nearest_exact(lib.db, qv, 10)
            naive_vec.append((time.perf_counter() - t) * 1000)
            found = vector_search.nearest(lib.db, qv, 10)
            recall.append(overlap_at([c for c, _ in found], [c for c, _ in exact], 10))
            vector_search.SCORE_IN_NUMPY = False
            t = time.perf_counter()
            try:
                by_knn = vector_search.nearest(lib.db, qv, 10)
            finally:
                vector_search.SCORE_IN_NUMPY = True
            knn_vec.append((time.perf_counter() - t) * 1000)
            knn_recall.append(overlap_at([c for c, _ in by_knn], [c for c, _ in exact], 10))
            t = time.perf_counter()
            old = numpy_baseline.nearest(lib.db, qv, 10)
            np_vec.append((time.perf_counter() - t) * 1000)
            np_recall.append(overlap_at([c for c, _ in old], [c for c, _ in exact], 10))
            scoped_total.append(searcher.search(q, k=8, folder_id=folder).timings_ms["total"])
            exact_scoped = vector_search.nearest_exact(lib.db, qv, 10, folder)
            found = vector_search.nearest(lib.db, qv, 10, folder)
            scoped_recall.append(
                overlap_at([c for c, _ in found], [c for c, _ in exact_scoped], 10)
            )
        folder_chunks = lib.db.execute(
            "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.folder_id = ?",
            (folder,),
        ).fetchone()
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
        "page_cache_read_s": round(page_cache_read_s, 2),
        "vec0_knn": {
            "vector_ms": summarize(knn_vec),
            "recall_at_10": round(statistics.fmean(knn_recall), 4),
        },
        "numpy": {
            "first_vector_ms": round(np_first, 1),
            "vector_ms": summarize(np_vec),
            "recall_at_10": round(statistics.fmean(np_recall), 4),
        },
        "folder": {
            "chunks": int(folder_chunks[0]) if folder_chunks else 0,
            "search_ms": summarize(scoped_total),
            "recall_at_10": round(statistics.fmean(scoped_recall), 4),
        },
    }
    if fresh_runs:
        some = list(queries[1 : 1 + fresh_runs])
        out["fresh_process"] = {
            "sqlite_vec": _fresh("sqlite-vec", path, some),
            "sqlite_vec_folder": _fresh("sqlite-vec", path, some, folder),
            "numpy": _fresh("numpy", path, some),
        }
        if can_evict():
            out["fresh_process"]["sqlite_vec_cold"] = _fresh("sqlite-vec", path, some, cold=True)
            out["fresh_process"]["sqlite_vec_folder_cold"] = _fresh(
                "sqlite-vec", path, some, folder, cold=True
            )
    if ann:
        with Library(path) as lib:
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
        exact = vector_search.nearest_exact(db, qv, 10)
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
