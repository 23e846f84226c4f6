"""Hybrid retrieval: vector search (`desktop.library.vectors`, sqlite-vec) and FTS5 BM25
over chunks, fused; optionally scoped to one folder.

The shipped fusion was chosen on training splits only, by a rule fixed before the grids
were scored (`desktop/evaluate/fusion_tuning.py` `choose_across`: the best mean nDCG@10 over
SciFact train, 809 queries, and 1,500 SQuAD-train questions over 40 articles, among the
settings at or above plain RRF k=60 on both; 245 of 540 held): each leg's 200 best, the
keyword leg's candidates the vector leg missed scored by their exact cosine ("fill"), each
leg's scores divided by its best (cosine below 0 as 0), then 0.5 of each (nDCG@10 0.738
and 0.914 on those sets against plain RRF's 0.727 and 0.891). RRF k=10 (shipped before)
and min-max convex fusion (before that; it lost to plain RRF on collections kept back
from tuning) stay available for `folio eval beir`. Test splits are scored afterwards, once
(docs/BENCHMARKS.md). The keyword leg's BM25 constants were chosen
the same way afterwards, with this fusion fixed (`keywords.BM25`).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import apsw
import numpy as np

from desktop.embed.base import Embedder
from desktop.library import keywords, vector_search, vectors
from desktop.library.modes import MODES, Mode
from desktop.library.passage import ChunkRecord
from desktop.library.store import Library

FusionMethod = Literal["rrf", "convex", "tmm"]
FUSION_METHODS: tuple[FusionMethod, ...] = ("rrf", "convex", "tmm")


@dataclass(frozen=True)
class Fusion:
    """How the two legs are combined.

    Attributes:
        method: "rrf" (weighted reciprocal rank), "convex" (scores min-max normalised over
            each leg's candidates) or "tmm" (scores divided by the leg's best, so 0 stays
            0: BM25 and, clipped, cosine both start there; the "theoretical minimum"
            normalisation, which does not depend on how deep a leg's list goes).
        rrf_k: RRF's rank constant: larger flattens the difference between ranks.
        vector_weight: the vector leg's weight; the keyword leg has 1 - vector_weight
            under convex and tmm fusion and 1 under RRF.
        depth: candidates taken from each leg before fusing.
        fill: the keyword leg's candidates that the vector leg did not return are scored
            by their exact cosine (read from the stored vectors) and ranked into the vector
            leg, so a chunk only one leg found is not scored as a miss by the other.
    """

    method: FusionMethod = "rrf"
    rrf_k: int = 60
    vector_weight: float = 1.0
    depth: int = 100
    fill: bool = False

    def __post_init__(self) -> None:
        if self.method not in FUSION_METHODS:
            raise ValueError(f"unknown fusion method {self.method!r}")
        if self.rrf_k < 0 or self.depth < 1 or self.vector_weight < 0:
            raise ValueError("rrf_k, depth and vector_weight must be positive")
        if self.method != "rrf" and self.vector_weight > 1:
            raise ValueError("a convex fusion's vector_weight is at most 1")


# Chosen on training splits only (see the module docstring); Fusion() is textbook RRF.
DEFAULT_FUSION = Fusion("tmm", rrf_k=60, vector_weight=0.5, depth=200, fill=True)


@dataclass(frozen=True)
class Hit:
    """One retrieved passage with its fused score and per-leg ranks (1-based, None if absent)."""

    chunk: ChunkRecord
    score: float
    vector_rank: int | None = None
    keyword_rank: int | None = None
    similarity: float | None = None  # cosine(query, chunk); None in keyword mode


@dataclass
class SearchResult:
    hits: list[Hit]
    timings_ms: dict[str, float] = field(default_factory=dict)


def fts_query(text: str) -> str | None:
    """An FTS5 OR query of the text's content words, each quoted so no syntax leaks in."""
    return keywords.or_query(keywords.query_words(text))


class Searcher:
    """Searches one library with one embedder (the one the library was built with)."""

    def __init__(
        self, library: Library, embedder: Embedder, fusion: Fusion = DEFAULT_FUSION
    ) -> None:
        library.bind_embedder(embedder.model_id, embedder.dim)
        self.library = library
        self.embedder = embedder
        self.fusion = fusion

    def vector_ids(
        self, vector: np.ndarray, limit: int, folder_id: int | None = None
    ) -> list[tuple[int, float]]:
        return vector_search.nearest(self.library.db, vector, limit, folder_id)

    def keyword_ids(
        self, query: str, limit: int, folder_id: int | None = None
    ) -> list[tuple[int, float]]:
        return keywords.keyword_search(self.library.db, query, limit, folder_id=folder_id)

    def legs(
        self, query: str, depth: int, mode: Mode = "hybrid", folder_id: int | None = None
    ) -> tuple[list[tuple[int, float]], list[tuple[int, float]], np.ndarray | None, dict]:
        """Each leg's ranked (chunk id, score) candidates, the query vector and timings (ms).
        With `folder_id`, both legs search that folder only (inside each leg, so each
        still returns `depth` candidates when the folder has them).

        In hybrid mode the query is embedded on a helper thread while this thread runs the
        keyword leg: ONNX Runtime and SQLite both release the GIL, so the two overlap, and
        the keyword leg stays on this thread's connection (an apsw connection serves one
        thread at a time). The vector leg follows on this thread: run beside the keyword
        leg instead (on the helper thread, on a second read-only connection), it was slower
        on 2 cores, the legs slowing each other (`folio bench retrieval`, 20 SciFact
        queries, warm, load 0.5-1.0, December 7: p50 40.4 against 36.9 ms at 1M, the vector
        leg 26.6 against 14.7 ms; 22.5 against 21.7 ms at 100k)."""
        timings: dict[str, float] = {}
        vec: list[tuple[int, float]] = []
        kw: list[tuple[int, float]] = []
        query_vector = None
        embedding: Future[tuple[np.ndarray, float]] | None = None
        if mode == "hybrid":
            embedding = _helper().submit(self._embed, query)
        if mode in ("hybrid", "keyword"):
            t = time.perf_counter()
            kw = self.keyword_ids(query, depth, folder_id)
            timings["keyword"] = (time.perf_counter() - t) * 1000
        if mode in ("hybrid", "vector"):
            query_vector, timings["embed"] = (
                embedding.result() if embedding is not None else self._embed(query)
            )
            t = time.perf_counter()
            vec = self.vector_ids(query_vector, depth, folder_id)
            timings["vector"] = (time.perf_counter() - t) * 1000
        return vec, kw, query_vector, timings

    def _embed(self, query: str) -> tuple[np.ndarray, float]:
        t = time.perf_counter()
        vector = self.embedder.embed_query(query)
        return vector, (time.perf_counter() - t) * 1000

    def search(
        self, query: str, k: int = 8, mode: Mode = "hybrid", folder_id: int | None = None
    ) -> SearchResult:
        """Return the top `k` chunks for `query` with per-stage timings in ms (`total` is
        the whole search's wall time: in hybrid mode embedding and keywords overlap).
        With `folder_id`, only chunks of that folder's documents."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}")
        started = time.perf_counter()
        depth = k if mode != "hybrid" else max(k, self.fusion.depth)
        vec, kw, query_vector, timings = self.legs(query, depth, mode, folder_id)
        t = time.perf_counter()
        cosines = None
        if mode == "hybrid" and self.fusion.fill and query_vector is not None:
            cosines = missing_cosines(self.library.db, query_vector, vec, kw[: self.fusion.depth])
        ranked = fuse(vec, kw, mode, self.fusion, cosines)[:k]
        chunks = self.library.chunks_by_id([cid for cid, *_ in ranked])
        known = vec + list(cosines.items()) if cosines else vec
        sims = self._similarities(query_vector, [cid for cid, *_ in ranked], known)
        hits = [
            Hit(chunks[cid], score, vr, kr, sims.get(cid))
            for cid, score, vr, kr in ranked
            if cid in chunks
        ]
        timings["fuse"] = (time.perf_counter() - t) * 1000
        timings["total"] = (time.perf_counter() - started) * 1000
        return SearchResult(hits, timings)

    def _similarities(
        self, query_vector: np.ndarray | None, ids: list[int], known: list[tuple[int, float]]
    ) -> dict[int, float]:
        """Cosine similarity of the query to each chunk (the vector leg's exact scores, and
        the stored vectors of chunks only the keyword leg found)."""
        if query_vector is None or not ids:
            return {}
        sims = dict(known)
        missing = [cid for cid in ids if cid not in sims]
        for cid, v in vectors.vectors_of(self.library.db, missing).items():
            sims[cid] = float(v @ query_vector)
        return {cid: sims[cid] for cid in ids if cid in sims}


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _helper() -> ThreadPoolExecutor:
    """The threads that embed queries while the keyword leg runs (shared by all searchers:
    a search waits for its own future only)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="folio-query-embed")
        return _pool


def _minmax(scored: list[tuple[int, float]]) -> dict[int, float]:
    if not scored:
        return {}
    values = [s for _, s in scored]
    lo, hi = min(values), max(values)
    return {cid: (s - lo) / (hi - lo) if hi > lo else 1.0 for cid, s in scored}


def _from_zero(scored: list[tuple[int, float]]) -> dict[int, float]:
    """Scores over the best one, negative ones as 0 (a cosine below 0 is no match)."""
    if not scored:
        return {}
    hi = max(s for _, s in scored)
    return {cid: max(s, 0.0) / hi if hi > 0 else 0.0 for cid, s in scored}


def missing_cosines(
    db: apsw.Connection,
    query_vector: np.ndarray,
    vec: list[tuple[int, float]],
    kw: list[tuple[int, float]],
) -> dict[int, float]:
    """The exact cosine of each keyword candidate the vector leg did not return."""
    found = {cid for cid, _ in vec}
    missing = [cid for cid, _ in kw if cid not in found]
    ids, matrix = vectors.vector_matrix(db, missing)
    if not len(ids):
        return {}
    sims = vector_search.dot(matrix, np.asarray(query_vector, dtype=np.float32))
    return dict(zip(ids.tolist(), sims.tolist(), strict=True))


def fuse(
    vec: list[tuple[int, float]],
    kw: list[tuple[int, float]],
    mode: Mode,
    fusion: Fusion = DEFAULT_FUSION,
    cosines: dict[int, float] | None = None,
) -> list[tuple[int, float, int | None, int | None]]:
    """Combine the legs' ranked candidates into (chunk id, score, vector rank, keyword rank),
    best first; ties are broken by chunk id so results repeat. With `fusion.fill`,
    `cosines` scores the keyword candidates the vector leg lacks (`missing_cosines`)."""
    vec, kw = vec[: fusion.depth], kw[: fusion.depth]
    if fusion.fill and cosines and mode == "hybrid":
        found = {cid for cid, _ in vec}
        extra = [(cid, cosines[cid]) for cid, _ in kw if cid not in found and cid in cosines]
        vec = sorted(vec + extra, key=lambda item: (-item[1], item[0]))
    vranks = {cid: i + 1 for i, (cid, _) in enumerate(vec)}
    kranks = {cid: i + 1 for i, (cid, _) in enumerate(kw)}
    if mode == "vector":
        return [(cid, s, vranks[cid], None) for cid, s in vec]
    if mode == "keyword":
        return [(cid, s, None, kranks[cid]) for cid, s in kw]
    scores: dict[int, float] = {}
    if fusion.method == "rrf":
        for ranks, weight in ((vranks, fusion.vector_weight), (kranks, 1.0)):
            for cid, rank in ranks.items():
                scores[cid] = scores.get(cid, 0.0) + weight / (fusion.rrf_k + rank)
    else:
        w = fusion.vector_weight
        norm = _minmax if fusion.method == "convex" else _from_zero
        vnorm, knorm = norm(vec), norm(kw)
        for cid in vnorm.keys() | knorm.keys():
            scores[cid] = w * vnorm.get(cid, 0.0) + (1 - w) * knorm.get(cid, 0.0)
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    return [(cid, s, vranks.get(cid), kranks.get(cid)) for cid, s in ordered]
