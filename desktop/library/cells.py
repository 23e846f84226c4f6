"""The cells of the vector index: k-means centroids that split a large library into
partitions of about a hundred chunks, so a search scans only the cells nearest to the
query (an inverted-file index, built from sqlite-vec's partition keys).

The centroids are a few megabytes (4,096 x 384 floats at a million chunks), held
per connection and re-read only when a rebuild changes them (a counter in `meta`). A
library below `MIN_CHUNKS` has one cell, 0, and every search scans it whole.
"""

from __future__ import annotations

import threading
import weakref

import apsw
import numpy as np

from desktop.library.columns import as_bytes

TABLE = "chunk_vector_cells"
_VERSION = "vector_cells_version"

# Below this many chunks one cell: sqlite-vec's int8 scan of the whole library is fast
# enough (see `desktop.library.vectors`).
MIN_CHUNKS = 20_000
# Small cells route better (simulated in numpy on the padded bench libraries, 20 SciFact
# queries): scanning 3 % of 1M rows in the cells nearest the query found 0.98 of the
# exact top 10 with 1,024 cells, 1.0 with 4,096; at 100k 128 cells needed 15 % of the
# rows for 0.965, while 16 of 1,024 cells (1.6 %) found 0.985 in the index itself.
ROWS_PER_CELL = 100
MAX_CELLS = 4_096
TRAIN_PER_CELL = 20  # sample rows per cell for k-means
TRAIN_ROUNDS = 8


def cell_count(n_chunks: int) -> int:
    """How many cells a library of `n_chunks` gets (a power of two, 1 below MIN_CHUNKS)."""
    if n_chunks < MIN_CHUNKS:
        return 1
    return int(min(MAX_CELLS, 2 ** round(np.log2(n_chunks / ROWS_PER_CELL))))


def create(db: apsw.Connection) -> None:
    db.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY, centroid BLOB)")


def train(sample: np.ndarray, n_cells: int, seed: int = 0) -> np.ndarray:
    """Spherical k-means: `n_cells` unit centroids of the rows of `sample`."""
    rng = np.random.default_rng(seed)
    data = np.ascontiguousarray(sample, dtype=np.float32)
    n_cells = min(n_cells, len(data))
    centroids = data[rng.choice(len(data), n_cells, replace=False)].copy()
    for _ in range(TRAIN_ROUNDS):
        owner = assign(centroids, data)
        sums = np.zeros_like(centroids)
        np.add.at(sums, owner, data)
        empty = np.flatnonzero(np.bincount(owner, minlength=n_cells) == 0)
        sums[empty] = data[rng.choice(len(data), len(empty), replace=False)]
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return centroids.astype(np.float32)


def assign(centroids: np.ndarray | None, matrix: np.ndarray) -> np.ndarray:
    """The cell of each row (0 for all when there are no centroids)."""
    rows = np.atleast_2d(matrix)
    if centroids is None or len(centroids) <= 1:
        return np.zeros(len(rows), dtype=np.int64)
    out = np.empty(len(rows), dtype=np.int64)
    for start in range(0, len(rows), 20_000):  # bounded memory: 20k x cells floats
        part = rows[start : start + 20_000].astype(np.float32, copy=False)
        out[start : start + len(part)] = np.argmax(part @ centroids.T, axis=1)
    return out


def nearest(centroids: np.ndarray, query: np.ndarray, probes: int) -> list[int]:
    """The `probes` cells whose centroids are nearest to the query."""
    sims = np.einsum("ij,j->i", centroids, np.asarray(query, dtype=np.float32))  # not BLAS
    if probes >= len(sims):
        return list(range(len(sims)))
    return [int(c) for c in np.argpartition(-sims, probes - 1)[:probes]]


def store(db: apsw.Connection, centroids: np.ndarray | None) -> None:
    """Replace the centroids (None: one cell) inside the caller's transaction."""
    create(db)
    db.execute(f"DELETE FROM {TABLE}")
    if centroids is not None and len(centroids) > 1:
        db.executemany(
            f"INSERT INTO {TABLE}(id, centroid) VALUES (?, ?)",
            ((i, np.asarray(c, dtype=np.float32).tobytes()) for i, c in enumerate(centroids)),
        )
    db.execute(
        "INSERT INTO meta(key, value) VALUES (?, '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        (_VERSION,),
    )


_cache: weakref.WeakKeyDictionary[apsw.Connection, tuple[str | None, np.ndarray | None]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def load(db: apsw.Connection) -> np.ndarray | None:
    """This library's centroids (None: one cell), re-read only after a rebuild."""
    row = db.execute("SELECT value FROM meta WHERE key = ?", (_VERSION,)).fetchone()
    version = None if row is None else str(row[0])
    with _lock:
        cached = _cache.get(db)
    if cached is not None and cached[0] == version:
        return cached[1]
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (TABLE,)).fetchone()
    rows: list[np.ndarray] = []
    if exists is not None:
        for (blob,) in db.execute(f"SELECT centroid FROM {TABLE} ORDER BY id"):
            rows.append(np.frombuffer(as_bytes(blob), dtype=np.float32))
    centroids = np.stack(rows) if len(rows) > 1 else None
    with _lock:
        _cache[db] = (version, centroids)
    return centroids
