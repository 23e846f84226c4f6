"""The keyword leg's second half: its candidates' scores over every query word, the best of
them with the leg's own BM25 constants (desktop/library/keywords.py).

FTS5's bm25() picks the candidates: the pruned query's best RESCORE_DEPTH chunks. It only
sees the words the query kept, and its k1 and b are fixed at 1.2 and 0.75 (fts5_aux.c).
The words left out are added back from each chunk's own text, run through the table's
tokenizer, as bm25() would score them (same k1, b, document length and average, with the
estimated document frequency in the IDF), so each candidate has FTS5's BM25 over every
word. The best RESCORE_TOP of those are scored again the same way with the leg's own
constants (`Bm25`); the rest keep their order on the new scale. Under FTS5's constants the
scores are FTS5's own to the last digits (tests/test_search_keywords.py).

Cost: adding left-out words back to 200 chunks at the 100k library took 6.1 ms a query,
3.3 ms of it tokenizing (60 SciFact queries, quiet, December 7 night); scoring the best 30
again about 1 ms (December 8). A query that left no word out tokenizes only those 30.
Finishing the add-back on a helper thread while the vector leg ran was slower at 100k (p50
21.3-21.8 against 19.9-20.0 ms, in one process, interleaved) and faster at 1M (34.8
against 36.6 ms): the tokenizer holds the GIL the vector leg's Python parts need, so it
stays on the searching thread.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import cast

import apsw

# The tokenizer chunks_fts was created with (migrations.m001_create_tables).
TOKENIZER = ("porter", ["unicode61", "remove_diacritics", "2"])


@dataclass(frozen=True)
class Bm25:
    """BM25's two constants: k1 (how fast a word's repeats stop adding) and b (how much a
    long chunk is discounted)."""

    k1: float
    b: float


# The constants FTS5's bm25() uses.
FTS5_BM25 = Bm25(1.2, 0.75)


def rescored(
    db: apsw.Connection,
    ranked: list[tuple[int, float]],
    df: Mapping[str, int],
    left_out: Collection[str],
    limit: int,
    heading_weight: float,
    bm25: Bm25 = FTS5_BM25,
    top: int | None = None,
) -> list[tuple[int, float]]:
    """The best `limit` of `ranked` (the pruned query's chunks and their FTS5 scores) as
    (chunk id, score), best first, scored over every word of `df` (each query word, with
    its estimated document frequency):

    1. The words of `left_out` are added to each chunk's score as FTS5's bm25() would
       score them, so every chunk has FTS5's score over every word.
    2. The best `top` of those (None: all) are scored again with `bm25`'s constants; the
       others keep their FTS5 score times the median ratio of new to FTS5 score among the
       `top`, so all stay on one scale. Under FTS5's own constants nothing changes.

    BM25 per word: IDF x tf (k1 + 1) / (tf + k1 (1 - b + b len/avglen)), tf the text's
    count plus `heading_weight` times the heading's, len both columns' tokens. A word the
    tokenizer splits ("e_coli") is a phrase, as in FTS5's query: its tf counts the stems
    in a row."""
    n_rows, avg_len = totals(db)
    if not ranked or not df or n_rows == 0 or avg_len <= 0:
        return ranked[:limit]
    tokenize = db.fts5_tokenizer(*TOKENIZER)
    terms: dict[str, tuple[list[str], float]] = {}
    for word, hits in df.items():
        stems = tokens(tokenize, word, apsw.FTS5_TOKENIZE_QUERY)
        if stems:
            idf = math.log((n_rows - hits + 0.5) / (hits + 0.5))
            terms[word] = (stems, idf if idf > 0 else 1e-6)
    texts = _Texts(db, tokenize)
    fts5 = dict(ranked)
    ids = [cid for cid, _ in ranked]
    added = [terms[w] for w in left_out if w in terms]
    if added:
        texts.load(ids)
        for cid in ids:
            fts5[cid] += _bm25(texts.get(cid), added, heading_weight, FTS5_BM25, avg_len)
    order = sorted(ids, key=lambda cid: (-fts5[cid], cid))
    if bm25 == FTS5_BM25:
        return [(cid, fts5[cid]) for cid in order[:limit]]
    best = order if top is None else order[:top]
    texts.load(best)
    every = list(terms.values())
    scores = {cid: _bm25(texts.get(cid), every, heading_weight, bm25, avg_len) for cid in best}
    rest = order[len(best) :]
    if rest:
        ratios = [scores[cid] / fts5[cid] for cid in best if fts5[cid] > 0]
        scale = statistics.median(ratios) if ratios else 1.0
        scores.update((cid, fts5[cid] * scale) for cid in rest)
    final = sorted(order, key=lambda cid: (-scores[cid], cid))
    return [(cid, scores[cid]) for cid in final[:limit]]


class _Texts:
    """Chunks' text and heading through the table's tokenizer, read on demand (a
    document's chunks share one heading, tokenized once)."""

    def __init__(self, db: apsw.Connection, tokenize: apsw.FTS5Tokenizer) -> None:
        self.db = db
        self.tokenize = tokenize
        self.chunks: dict[int, tuple[list[str], list[str]]] = {}
        self.headings: dict[str, list[str]] = {}

    def load(self, ids: list[int]) -> None:
        missing = [cid for cid in ids if cid not in self.chunks]
        for start in range(0, len(missing), 500):
            part = missing[start : start + 500]
            marks = ",".join("?" * len(part))
            for cid, text, heading in self.db.execute(
                f"SELECT id, text, heading FROM chunks WHERE id IN ({marks})", part
            ):
                key = heading or ""
                if key not in self.headings:
                    self.headings[key] = tokens(self.tokenize, key, apsw.FTS5_TOKENIZE_DOCUMENT)
                body = tokens(self.tokenize, text or "", apsw.FTS5_TOKENIZE_DOCUMENT)
                self.chunks[int(cid)] = (body, self.headings[key])

    def get(self, cid: int) -> tuple[list[str], list[str]]:
        return self.chunks.get(cid, ([], []))  # a chunk deleted meanwhile scores nothing


def _bm25(
    text: tuple[list[str], list[str]],
    terms: list[tuple[list[str], float]],
    heading_weight: float,
    bm25: Bm25,
    avg_len: float,
) -> float:
    """One chunk's BM25 over `terms` (stems, IDF), its (body, heading) tokens given."""
    body, head = text
    k1 = bm25.k1
    norm = k1 * (1 - bm25.b + bm25.b * (len(body) + len(head)) / avg_len)
    score = 0.0
    for stems, idf in terms:
        if len(stems) == 1:  # inline: this loop runs about 2,000 times a search
            tf: float = body.count(stems[0])
            if head:
                tf += heading_weight * head.count(stems[0])
        else:
            tf = _count(body, stems) + heading_weight * _count(head, stems)
        if tf:
            score += idf * tf * (k1 + 1) / (tf + norm)
    return score


def _count(seq: list[str], stems: list[str]) -> int:
    """How often `stems` (a phrase's tokens; `_bm25` counts a single one itself) occur in a
    row in `seq`."""
    n = len(stems)
    return sum(1 for i in range(len(seq) - n + 1) if seq[i : i + n] == stems)


def totals(db: apsw.Connection) -> tuple[int, float]:
    """Rows in chunks_fts and their average length in tokens, from FTS5's own averages
    record (rowid 1 of its data table: varints of the row count, then each column's
    token total), as bm25() reads them."""
    row = db.execute("SELECT block FROM chunks_fts_data WHERE id = 1").fetchone()
    values = _varints(bytes(row[0])) if row and row[0] else []
    if not values or values[0] <= 0:
        return 0, 0.0
    return values[0], sum(values[1:]) / values[0]


def _varints(blob: bytes) -> list[int]:
    """SQLite's big-endian varints (the ninth byte carries 8 bits), as FTS5 writes them."""
    out: list[int] = []
    i = 0
    while i < len(blob):
        value = 0
        for k in range(9):
            byte = blob[i]
            i += 1
            if k == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out


def tokens(tokenize: apsw.FTS5Tokenizer, text: str, reason: int) -> list[str]:
    """The tokens FTS5 indexes (or queries) for `text`, colocated synonyms left out."""
    if not text:
        return []
    found = tokenize(
        text.encode("utf-8"), reason, None, include_offsets=False, include_colocated=False
    )
    return cast(list[str], found)  # plain strings without offsets or colocated tokens
