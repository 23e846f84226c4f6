"""The vector index of a library: the one place that creates, writes, deletes and reads the
chunk embeddings.

Two plain tables keyed by chunk id, written together inside the caller's transaction:
- `chunk_vector_floats`: the exact float32 vectors, the source of truth;
- `chunk_vector_codes`: each vector quantised to int8 with its own scale (4 + 384 bytes for
  a 384-d vector, a quarter of the floats).

`nearest` works in three passes, each on fewer candidates and finer numbers: the sign bits
of the int8 codes (48 bytes a vector, a 32nd of the floats) by Hamming distance over every
chunk; the int8 codes of the best few thousand; the exact floats of the best few dozen,
read by primary key. Only the codes are held in memory (about 440 bytes a chunk). They
follow the library: rows added since are appended, and a deletion by any connection
(SQLite's `data_version`, this connection's change counter and a deletion counter in
`meta` tell) reloads them, so they are never stale and need no file of their own.

Until schema 4 the floats lived in a sqlite-vec `vec0` table. Its point reads walk a 1.5 MB
blob each, about 1 ms a vector, too slow for rescoring, so migration 4 moved them.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import apsw
import numpy as np

from desktop.library.columns import as_bytes, as_int

FLOATS = "chunk_vector_floats"
_DELETIONS = "vector_deletions"
CODES = "chunk_vector_codes"
LEGACY_VEC0 = "chunk_vectors"

# How many candidates each pass hands to the next (at least; ties at the cut-off stay in).
# Chosen with `folio bench retrieval`, recall@10 against exact search on libraries padded
# with real MiniLM vectors: see docs/BENCHMARKS.md.
BIT_CANDIDATES = 2_000
BIT_SHARE = 0.005  # ...or this share of the library, if more
INT8_CANDIDATES = 64
# (A coarse pass over the first 128 bits before the full codes was tried at 1M chunks: it
# cost recall, 0.88 against 0.99, and saved no time, so every pass reads whole codes.)


def create(db: apsw.Connection, dim: int) -> None:
    """Create the index for vectors of `dim` dimensions, if it does not exist yet. A vector
    of another width is refused by the tables themselves (a constraint error)."""
    if dim <= 0:
        raise ValueError("vector dimension must be positive")
    floats, codes = 4 * int(dim), 4 + int(dim)
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {FLOATS} (id INTEGER PRIMARY KEY, "
        f"vector BLOB NOT NULL CHECK (length(vector) = {floats}));"
        f"CREATE TABLE IF NOT EXISTS {CODES} (id INTEGER PRIMARY KEY, "
        f"code BLOB NOT NULL CHECK (length(code) = {codes}));"
    )


def drop(db: apsw.Connection) -> None:
    """Remove the index (a library with no vectors, unbound from its embedder)."""
    db.execute(f"DROP TABLE IF EXISTS {FLOATS}; DROP TABLE IF EXISTS {CODES};")


def migrate_from_vec0(db: apsw.Connection) -> int:
    """Move the vectors of a schema-2 library out of its vec0 table; returns how many."""
    legacy = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (LEGACY_VEC0,)).fetchone()
    dim = db.execute("SELECT value FROM meta WHERE key = 'embedding_dim'").fetchone()
    if legacy is None or dim is None:
        return 0
    create(db, int(str(dim[0])))
    moved = 0
    batch: list[tuple[int, bytes]] = []
    for rowid, blob in db.execute(f"SELECT rowid, embedding FROM {LEGACY_VEC0}"):
        batch.append((as_int(rowid), as_bytes(blob)))
        if len(batch) == 10_000:
            moved += _insert_blobs(db, batch)
            batch = []
    moved += _insert_blobs(db, batch)
    db.execute(f"DROP TABLE {LEGACY_VEC0}")
    return moved


def _insert_blobs(db: apsw.Connection, rows: list[tuple[int, bytes]]) -> int:
    if not rows:
        return 0
    matrix = np.stack([np.frombuffer(b, dtype=np.float32) for _, b in rows])
    insert_many(db, [i for i, _ in rows], matrix)
    return len(rows)


def binary_codes(vectors: np.ndarray) -> np.ndarray:
    """Sign bits of each row, packed 8 to a byte: shape (n, ceil(dim / 8)) of uint8."""
    matrix = np.atleast_2d(np.asarray(vectors))
    return np.packbits(matrix > 0, axis=1)


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row as int8 times its own scale: (scales (n,) float32, codes (n, dim) int8)."""
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    peak = np.abs(matrix).max(axis=1)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(matrix / scales[:, None]), -127, 127).astype(np.int8)
    return scales, codes


def _encode(vectors: np.ndarray) -> list[bytes]:
    scales, codes = quantize(vectors)
    return [s.tobytes() + c.tobytes() for s, c in zip(scales, codes, strict=True)]


def insert(db: apsw.Connection, chunk_id: int, vector: np.ndarray) -> None:
    """Store the vector of one chunk."""
    insert_many(db, [chunk_id], np.atleast_2d(vector))


def insert_many(db: apsw.Connection, chunk_ids: Sequence[int], matrix: np.ndarray) -> None:
    """Store the vectors of many chunks (row i belongs to chunk_ids[i])."""
    floats = np.ascontiguousarray(np.atleast_2d(matrix), dtype=np.float32)
    if len(floats) != len(chunk_ids):
        raise ValueError("one vector per chunk id")
    codes = _encode(floats)
    ids = [int(i) for i in chunk_ids]
    db.executemany(
        f"INSERT INTO {FLOATS}(id, vector) VALUES (?, ?)",
        ((cid, row.tobytes()) for cid, row in zip(ids, floats, strict=True)),
    )
    db.executemany(
        f"INSERT INTO {CODES}(id, code) VALUES (?, ?)",
        zip(ids, codes, strict=True),
    )


def delete_document(db: apsw.Connection, document_id: int) -> None:
    """Delete the vectors of a document's chunks."""
    _delete_where(db, "SELECT id FROM chunks WHERE document_id = ?", (document_id,))


def delete_folder(db: apsw.Connection, folder_id: int) -> None:
    """Delete the vectors of every chunk of a folder's documents, in one statement each."""
    _delete_where(
        db,
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.folder_id = ?",
        (folder_id,),
    )


def _delete_where(db: apsw.Connection, chunk_ids_sql: str, args: tuple[int, ...]) -> None:
    db.execute(f"DELETE FROM {FLOATS} WHERE id IN ({chunk_ids_sql})", args)
    db.execute(f"DELETE FROM {CODES} WHERE id IN ({chunk_ids_sql})", args)
    # Chunk ids can be reused once deleted, so readers cannot tell a deletion from the
    # ids alone: this counter tells every connection to reload its codes.
    db.execute(
        "INSERT INTO meta(key, value) VALUES (?, '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (_DELETIONS,),
    )


def nearest(db: apsw.Connection, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The `k` chunks nearest to `query`, as (chunk id, cosine similarity), best first.

    Sign bits over all codes, int8 on the best thousands, exact floats on the best dozens.
    """
    if k <= 0:
        return []
    index = _code_index(db)
    candidates = index.candidates(np.asarray(query, dtype=np.float32), max(INT8_CANDIDATES, k))
    return rescore(db, query, candidates, k)


def nearest_exact(db: apsw.Connection, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Exact k-nearest by cosine over every stored vector (a full scan in SQLite)."""
    rows = db.execute(
        f"SELECT id, vec_distance_cosine(vector, ?) AS d FROM {FLOATS} ORDER BY d, id LIMIT ?",
        (np.ascontiguousarray(query, dtype=np.float32).tobytes(), k),
    )
    return [(int(r), 1.0 - float(d)) for r, d in rows]


def rescore(
    db: apsw.Connection, query: np.ndarray, candidates: Sequence[int] | np.ndarray, k: int
) -> list[tuple[int, float]]:
    """Exact cosine of `query` with each candidate's float vector; the best `k`."""
    stored = vectors_of(db, candidates)
    if not stored:
        return []
    ids = np.fromiter(stored.keys(), dtype=np.int64, count=len(stored))
    sims = _dot(np.stack(list(stored.values())), np.asarray(query, dtype=np.float32))
    order = np.lexsort((ids, -sims))[:k]  # best first, ties by id so results repeat
    return [(int(ids[i]), float(sims[i])) for i in order]


def vectors_of(db: apsw.Connection, chunk_ids: Sequence[int] | np.ndarray) -> dict[int, np.ndarray]:
    """The stored vectors of these chunks (missing ids are left out)."""
    out: dict[int, np.ndarray] = {}
    ids = [int(i) for i in chunk_ids]
    for start in range(0, len(ids), 900):  # below SQLite's default limit of bound variables
        part = ids[start : start + 900]
        marks = ",".join("?" * len(part))
        rows = db.execute(f"SELECT id, vector FROM {FLOATS} WHERE id IN ({marks})", part)
        out.update((int(r), np.frombuffer(blob, dtype=np.float32)) for r, blob in rows)
    return out


def count(db: apsw.Connection) -> int:
    """How many vectors the index holds."""
    row = db.execute(f"SELECT count(*) FROM {FLOATS}").fetchone()
    return int(row[0]) if row else 0


def exists(db: apsw.Connection) -> bool:
    """Whether the index was created (a library gets it when an embedder is first bound)."""
    found = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (FLOATS,)).fetchone()
    return found is not None


def orphan_count(db: apsw.Connection) -> int:
    """How many stored vectors or codes belong to no chunk, or chunks that lack a code (a
    consistency check; should be 0)."""
    row = db.execute(
        f"SELECT (SELECT count(*) FROM {FLOATS} WHERE id NOT IN (SELECT id FROM chunks)) + "
        f"(SELECT count(*) FROM {CODES} WHERE id NOT IN (SELECT id FROM chunks)) + "
        f"(SELECT count(*) FROM {FLOATS} f WHERE NOT EXISTS "
        f"(SELECT 1 FROM {CODES} c WHERE c.id = f.id))"
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


# -- the in-memory code index ------------------------------------------------------------


@dataclass
class _CodeIndex:
    """All codes of a library in memory: int8 rows, their scales, and their sign bits as
    one column of uint64 words per 64 dimensions (column-major: each pass reads one array)."""

    version: tuple[int, int]
    deletions: str | None
    ids: np.ndarray  # int64 chunk ids, ascending
    scales: np.ndarray  # (n,) float32
    int8: np.ndarray  # (n, dim) int8
    words: np.ndarray  # (n_words, n) uint64

    def candidates(self, query: np.ndarray, wanted: int) -> np.ndarray:
        """Ids of (at least) the `wanted` chunks nearest to the query by their int8 codes."""
        n = len(self.ids)
        if n <= wanted:
            return self.ids
        rows = np.arange(n)
        first = max(BIT_CANDIDATES, int(n * BIT_SHARE), wanted)
        if n > first:
            q = _words(binary_codes(query))[:, 0]
            rows = _smallest(_hamming(self.words, q), first)
        approx = _dot(self.int8[rows], query) * self.scales[rows]
        if len(rows) > wanted:
            rows = rows[np.argpartition(-approx, wanted - 1)[:wanted]]
        return self.ids[rows]


def _dot(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """rows @ query without BLAS: OpenBLAS splits even small products over threads, and on a
    busy 2-core machine waiting for the second thread cost 30 ms where numpy's own loop
    takes 1 ms."""
    return np.einsum("ij,j->i", rows.astype(np.float32, copy=False), query)


def _words(codes: np.ndarray) -> np.ndarray:
    """Packed byte codes (n, b) as column-major uint64 words (ceil(b / 8), n)."""
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
    """Positions of the `wanted` smallest distances, every tie at the cut-off included (a
    histogram of the small integer distances is cheaper than a partial sort)."""
    if len(dist) <= wanted:
        return np.arange(len(dist))
    cumulative = np.cumsum(np.bincount(dist))
    cutoff = int(np.searchsorted(cumulative, wanted))
    return np.flatnonzero(dist <= cutoff)


_cache: weakref.WeakKeyDictionary[apsw.Connection, _CodeIndex] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _version(db: apsw.Connection) -> tuple[int, int]:
    row = db.execute("PRAGMA data_version").fetchone()
    return (int(row[0]) if row else 0, db.total_changes())


def _read_codes(db: apsw.Connection, after: int) -> _Rows:
    ids: list[int] = []
    blobs: list[bytes] = []
    for cid, blob in db.execute(f"SELECT id, code FROM {CODES} WHERE id > ? ORDER BY id", (after,)):
        ids.append(as_int(cid))
        blobs.append(as_bytes(blob))
    if not blobs:
        return None
    raw = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(len(blobs), -1)
    scales = np.ascontiguousarray(raw[:, :4]).view(np.float32)[:, 0]
    int8 = np.ascontiguousarray(raw[:, 4:]).view(np.int8)
    return np.asarray(ids, dtype=np.int64), scales, int8, _words(binary_codes(int8))


_Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None


def _deletions(db: apsw.Connection) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (_DELETIONS,)).fetchone()
    return None if row is None else str(row[0])


def _code_index(db: apsw.Connection) -> _CodeIndex:
    """The connection's in-memory codes, brought up to date with the library."""
    version = _version(db)
    with _lock:
        cached = _cache.get(db)
    if cached is not None and cached.version == version:
        return cached
    with db:  # one read transaction, so the counter and the rows agree
        deletions = _deletions(db)
        if cached is not None and cached.deletions == deletions:
            # Only additions since (new ids are above every id stored): append them.
            last = int(cached.ids[-1]) if len(cached.ids) else 0
            parts = [cached.ids, cached.scales, cached.int8, cached.words]
            new = _read_codes(db, last)
            if new is not None:
                if len(cached.ids) == 0:
                    parts = list(new)
                else:
                    parts = [
                        np.concatenate([a, b], axis=1 if a.ndim == 2 and i == 3 else 0)
                        for i, (a, b) in enumerate(zip(parts, new, strict=True))
                    ]
        else:  # first use, or something was deleted: read them all
            new = _read_codes(db, 0)
            parts = (
                list(new)
                if new is not None
                else [
                    np.zeros(0, np.int64),
                    np.zeros(0, np.float32),
                    np.zeros((0, 1), np.int8),
                    np.zeros((1, 0), np.uint64),
                ]
            )
    index = _CodeIndex(version, deletions, *parts)
    with _lock:
        _cache[db] = index
    return index
