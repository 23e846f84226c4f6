"""The keyword leg's second half: the BM25 terms of the words its query left out, added to
the scores of the chunks the pruned query ranked best (desktop/library/keywords.py says
why words are left out).

The terms are computed as FTS5's bm25() would (same k1, b, document length and average,
with the estimated document frequency in the IDF) from each chunk's own text run through
the table's tokenizer, counting only the left-out words' tokens: 200 chunks at the 100k
library took 6.1 ms a query with a Counter of every token, 3.3 ms of it tokenizing (60
SciFact queries, quiet, December 7 night). Finished on a helper thread while the vector
leg ran, it was slower at 100k (p50 21.3-21.8 against 19.9-20.0 ms, in one process,
interleaved) and faster at 1M (34.8 against 36.6 ms): the tokenizer holds the GIL the
vector leg's Python parts need, so it stays on the searching thread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import cast

import apsw

# The tokenizer chunks_fts was created with (migrations.m001_create_tables), and FTS5's
# bm25() constants.
TOKENIZER = ("porter", ["unicode61", "remove_diacritics", "2"])
BM25_K1 = 1.2
BM25_B = 0.75


def added_back(
    db: apsw.Connection,
    ranked: list[tuple[int, float]],
    df: Mapping[str, int],
    limit: int,
    heading_weight: float,
) -> list[tuple[int, float]]:
    """The best `limit` of `ranked` as (chunk id, score), best first, once each one's score
    has the BM25 terms of the words in `df` (left out of the query; their estimated
    document frequencies) added, as FTS5's bm25() scores an OR query: per word, IDF x tf
    (k1 + 1) / (tf + k1 (1 - b + b len/avglen)), tf the text's count plus
    `heading_weight` times the heading's, len both columns' tokens."""
    n_rows, avg_len = totals(db)
    if not ranked or not df or n_rows == 0 or avg_len <= 0:
        return ranked[:limit]
    tokenize = db.fts5_tokenizer(*TOKENIZER)
    terms: list[tuple[str, float]] = []
    for word, hits in df.items():
        stems = tokens(tokenize, word, apsw.FTS5_TOKENIZE_QUERY)
        if len(stems) == 1:  # a word FTS5 splits is a phrase: left out of the add-back
            idf = math.log((n_rows - hits + 0.5) / (hits + 0.5))
            terms.append((stems[0], idf if idf > 0 else 1e-6))
    scores = dict(ranked)
    ids = [cid for cid, _ in ranked]
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        marks = ",".join("?" * len(part))
        for cid, text, heading in db.execute(
            f"SELECT id, text, heading FROM chunks WHERE id IN ({marks})", part
        ):
            body = tokens(tokenize, text or "", apsw.FTS5_TOKENIZE_DOCUMENT)
            head = tokens(tokenize, heading or "", apsw.FTS5_TOKENIZE_DOCUMENT)
            norm = BM25_K1 * (1 - BM25_B + BM25_B * (len(body) + len(head)) / avg_len)
            for stem, idf in terms:
                tf = body.count(stem) + heading_weight * head.count(stem)
                if tf:
                    scores[int(cid)] += idf * tf * (BM25_K1 + 1) / (tf + norm)
    best = sorted(ranked, key=lambda hit: (-scores[hit[0]], hit[0]))[:limit]
    return [(cid, scores[cid]) for cid, _ in best]


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
