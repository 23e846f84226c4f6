"""Schema 4's vector search, kept as the benchmarks' baseline: every vector's int8 code
(with its own scale) and sign bits loaded into the process, searched in numpy in three
passes (Hamming over all sign bits, int8 over the best thousands, exact floats over the
best few dozen). Schema 5 replaced it with sqlite-vec (`desktop.library.vectors`); only
`folio bench` uses this, to time the old path beside the new one in the same run.

The codes are computed from the stored floats when the index is first used (schema 4
read them from a table of their own, which migration 5 dropped), so its first search here
costs a little more than it did in schema 4; searches after it cost the same.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import apsw
import numpy as np

from desktop.library.columns import as_bytes, as_int
from desktop.library.vector_search import rescore
from desktop.library.vectors import FLOATS

BIT_CANDIDATES = 2_000
BIT_SHARE = 0.005
INT8_CANDIDATES = 64


def binary_codes(vectors: np.ndarray) -> np.ndarray:
    """Sign bits of each row, packed 8 to a byte: shape (n, ceil(dim / 8)) of uint8."""
    return np.packbits(np.atleast_2d(np.asarray(vectors)) > 0, axis=1)


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row as int8 times its own scale: (scales (n,) float32, codes (n, dim) int8)."""
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    peak = np.abs(matrix).max(axis=1)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(matrix / scales[:, None]), -127, 127).astype(np.int8)
    return scales, codes


@dataclass
class CodeIndex:
    """All codes of a library in memory (about 440 bytes a chunk at 384 dimensions)."""

    ids: np.ndarray
    scales: np.ndarray
    int8: np.ndarray
    words: np.ndarray  # (n_words, n) uint64, column-major sign bits

    def candidates(self, query: np.ndarray, wanted: int) -> np.ndarray:
        n = len(self.ids)
        if n <= wanted:
            return self.ids
        rows = np.arange(n)
        first = max(BIT_CANDIDATES, int(n * BIT_SHARE), wanted)
        if n > first:
            q = _words(binary_codes(query))[:, 0]
            rows = _smallest(_hamming(self.words, q), first)
        approx = np.einsum("ij,j->i", self.int8[rows].astype(np.float32), query)
        approx *= self.scales[rows]
        if len(rows) > wanted:
            rows = rows[np.argpartition(-approx, wanted - 1)[:wanted]]
        return self.ids[rows]


def _words(codes: np.ndarray) -> np.ndarray:
    n, b = codes.shape
    padded = np.zeros((n, -(-b // 8) * 8), dtype=np.uint8)
    padded[:, :b] = codes
    return np.ascontiguousarray(padded.view(np.uint64).T)


def _hamming(words: np.ndarray, q: np.ndarray) -> np.ndarray:
    dist = np.bitwise_count(words[0] ^ q[0]).astype(np.uint16)
    for j in range(1, words.shape[0]):
        dist += np.bitwise_count(words[j] ^ q[j])
    return dist


def _smallest(dist: np.ndarray, wanted: int) -> np.ndarray:
    if len(dist) <= wanted:
        return np.arange(len(dist))
    cumulative = np.cumsum(np.bincount(dist))
    cutoff = int(np.searchsorted(cumulative, wanted))
    return np.flatnonzero(dist <= cutoff)


def load(db: apsw.Connection, batch: int = 50_000) -> CodeIndex:
    """Read every float and keep its codes (what schema 4 did on a process's first search)."""
    ids: list[np.ndarray] = []
    scales: list[np.ndarray] = []
    int8: list[np.ndarray] = []
    last = 0
    while True:
        rows = db.execute(
            f"SELECT id, vector FROM {FLOATS} WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
        ).fetchall()
        if not rows:
            break
        part = [as_int(r[0]) for r in rows]
        matrix = np.frombuffer(b"".join(as_bytes(r[1]) for r in rows), dtype=np.float32)
        s, c = quantize(matrix.reshape(len(rows), -1))
        ids.append(np.asarray(part, dtype=np.int64))
        scales.append(s)
        int8.append(c)
        last = part[-1]
    if not ids:
        return CodeIndex(
            np.zeros(0, np.int64),
            np.zeros(0, np.float32),
            np.zeros((0, 1), np.int8),
            np.zeros((1, 0), np.uint64),
        )
    codes = np.concatenate(int8)
    return CodeIndex(
        np.concatenate(ids), np.concatenate(scales), codes, _words(binary_codes(codes))
    )


_cache: weakref.WeakKeyDictionary[apsw.Connection, CodeIndex] = weakref.WeakKeyDictionary()


def nearest(db: apsw.Connection, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Schema 4's `vector_search.nearest`: codes in memory (loaded once per connection)."""
    index = _cache.get(db)
    if index is None:
        index = _cache[db] = load(db)
    q = np.asarray(query, dtype=np.float32)
    return rescore(db, q, index.candidates(q, max(INT8_CANDIDATES, k)), k)
