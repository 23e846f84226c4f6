"""Hybrid retrieval: sqlite-vec KNN and FTS5 BM25 over chunks, fused.

Fusion is a convex combination of each leg's scores, min-max normalised over that leg's
candidates. On SciFact (scripts/eval_beir.py) it beat reciprocal rank fusion, which throws
away how far ahead a strong match is; RRF stays available (`fusion="rrf"`) for comparison.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from desktop.embed.base import Embedder
from desktop.library import vectors
from desktop.library.modes import MODES, Mode
from desktop.library.store import ChunkRecord, Library

RRF_K = 60
# Weight of the vector leg in convex fusion; 0.5 was best on SciFact (0.3-0.6 tried).
VECTOR_WEIGHT = 0.5
# Candidates taken from each leg before fusing (normalisation needs a stable pool).
FUSION_DEPTH = 100
Fusion = Literal["convex", "rrf"]

# Function words that only add noise to an OR query (FTS5 has no stopword list of its own).
_STOPWORDS = frozenset(
    """a an and are as at be but by can did do does for from had has have how i if in into is
    it its of on or our so than that the their them then there these they this to was we were
    what when where which who whom why will with would you your""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)


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
    words = [w.lower() for w in _WORD.findall(text)]
    terms = [w for w in words if w not in _STOPWORDS] or words
    unique = list(dict.fromkeys(terms))
    if not unique:
        return None
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in unique)


class Searcher:
    """Searches one library with one embedder (the one the library was built with)."""

    def __init__(self, library: Library, embedder: Embedder, fusion: Fusion = "convex") -> None:
        library.bind_embedder(embedder.model_id, embedder.dim)
        self.library = library
        self.embedder = embedder
        self.fusion: Fusion = fusion

    def vector_ids(self, vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
        return vectors.nearest(self.library.db, vector, limit)

    def keyword_ids(self, query: str, limit: int) -> list[tuple[int, float]]:
        match = fts_query(query)
        if match is None:
            return []
        rows = self.library.db.execute(
            "SELECT rowid, bm25(chunks_fts) AS s FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY s LIMIT ?",
            (match, limit),
        )
        return [(int(r), -float(s)) for r, s in rows]

    def search(self, query: str, k: int = 8, mode: Mode = "hybrid") -> SearchResult:
        """Return the top `k` chunks for `query` with per-stage timings in ms."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}")
        timings: dict[str, float] = {}
        depth = max(k * 2, FUSION_DEPTH)
        vec: list[tuple[int, float]] = []
        kw: list[tuple[int, float]] = []
        query_vector = None
        if mode in ("hybrid", "vector"):
            t = time.perf_counter()
            query_vector = self.embedder.embed_query(query)
            vec = self.vector_ids(query_vector, k if mode == "vector" else depth)
            timings["vector"] = (time.perf_counter() - t) * 1000
        if mode in ("hybrid", "keyword"):
            t = time.perf_counter()
            kw = self.keyword_ids(query, k if mode == "keyword" else depth)
            timings["keyword"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        ranked = _fuse(vec, kw, mode, self.fusion)[:k]
        chunks = self.library.chunks_by_id([cid for cid, *_ in ranked])
        sims = self._similarities(query_vector, [cid for cid, *_ in ranked])
        hits = [
            Hit(chunks[cid], score, vr, kr, sims.get(cid))
            for cid, score, vr, kr in ranked
            if cid in chunks
        ]
        timings["fuse"] = (time.perf_counter() - t) * 1000
        timings["total"] = sum(timings.values())
        return SearchResult(hits, timings)

    def _similarities(self, query_vector: np.ndarray | None, ids: list[int]) -> dict[int, float]:
        """Cosine similarity of the query to each chunk (vectors are unit length)."""
        if query_vector is None or not ids:
            return {}
        stored = vectors.vectors_of(self.library.db, ids)
        return {cid: float(v @ query_vector) for cid, v in stored.items()}


def _minmax(scored: list[tuple[int, float]]) -> dict[int, float]:
    if not scored:
        return {}
    values = [s for _, s in scored]
    lo, hi = min(values), max(values)
    return {cid: (s - lo) / (hi - lo) if hi > lo else 1.0 for cid, s in scored}


def _fuse(
    vec: list[tuple[int, float]],
    kw: list[tuple[int, float]],
    mode: Mode,
    fusion: Fusion = "convex",
) -> list[tuple[int, float, int | None, int | None]]:
    vranks = {cid: i + 1 for i, (cid, _) in enumerate(vec)}
    kranks = {cid: i + 1 for i, (cid, _) in enumerate(kw)}
    if mode == "vector":
        return [(cid, s, vranks[cid], None) for cid, s in vec]
    if mode == "keyword":
        return [(cid, s, None, kranks[cid]) for cid, s in kw]
    scores: dict[int, float] = {}
    if fusion == "rrf":
        for ranks in (vranks, kranks):
            for cid, rank in ranks.items():
                scores[cid] = scores.get(cid, 0.0) + 1.0 / (RRF_K + rank)
    else:
        vnorm, knorm = _minmax(vec), _minmax(kw)
        for cid in vnorm.keys() | knorm.keys():
            scores[cid] = VECTOR_WEIGHT * vnorm.get(cid, 0.0) + (1 - VECTOR_WEIGHT) * knorm.get(
                cid, 0.0
            )
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))  # stable ties
    return [(cid, s, vranks.get(cid), kranks.get(cid)) for cid, s in ordered]
