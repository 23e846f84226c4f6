"""The vector index of a library: the one place that creates, writes, deletes and reads the
chunk embeddings.

Two tables keyed by chunk id, written together inside the caller's transaction:
- `chunk_vector_floats`: the exact float32 vectors, a plain table (the source of truth;
  point reads by primary key cost microseconds);
- `chunk_vector_index`: a sqlite-vec `vec0` table of each vector as int8 codes (384
  bytes, each row at its own scale: the index ranks by cosine) with two partition keys:
  the chunk's folder, so a search scoped to a folder filters inside the KNN and still
  returns k of its chunks, and the chunk's cell (`desktop.library.cells`: k-means
  partitions of about a hundred chunks in a large library, one cell in a small one).

The search is `desktop.library.vector_search`. Nothing per chunk stays in Python: opening a library
reads nothing, every search reads what it needs through SQLite's page cache, and no
connection can see a stale index. (Sign bits, `bit[384]`, were tried first: at 100k
padded chunks they needed 800 candidates for recall@10 0.967, and asking sqlite-vec 0.1.9
for that many costs each row about `min(k, chunk size)` comparisons.)

Schema 4 kept int8 codes of every vector and searched them in numpy, loaded into each
process (about 440 bytes a chunk: 1.9 GB and 2.3 s on the first search at 1M chunks).
Migration 5 dropped them and built this index from the stored floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import apsw
import numpy as np

from desktop.library import cells, pending
from desktop.library.columns import as_bytes, as_int

FLOATS = "chunk_vector_floats"
INDEX = "chunk_vector_index"
LEGACY_CODES = "chunk_vector_codes"
LEGACY_VEC0 = "chunk_vectors"

# Rows per vec0 block. Every (folder, cell) partition ends in a part-filled block, and a
# small folder has a few rows in nearly every cell, so small blocks waste less: with
# 4,096 cells a 1 % folder of 1M chunks spans about 4,096 blocks, 25 MB of codes at 16
# rows a block, 100 MB at 64. A search at 1M reads about 400 blocks (4.7 ms, load 6).
CHUNK_SIZE = 16


def create(db: apsw.Connection, dim: int) -> None:
    """Create the index for vectors of `dim` dimensions, if it does not exist yet. A vector
    of another width is refused by the tables themselves (a constraint error)."""
    if dim <= 0:
        raise ValueError("vector dimension must be positive")
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {FLOATS} (id INTEGER PRIMARY KEY, "
        f"vector BLOB NOT NULL CHECK (length(vector) = {4 * int(dim)}))"
    )
    pending.watch_vectors(db)
    _create_index(db, dim)


def _create_index(db: apsw.Connection, dim: int) -> None:
    db.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {INDEX} USING vec0("
        f"folder_id integer partition key, cell integer partition key, "
        f"code int8[{int(dim)}] distance_metric=cosine, chunk_size={CHUNK_SIZE})"
    )
    # sqlite-vec 0.1.9 finds a partition's chunks by scanning its whole `_chunks` table,
    # unindexed: 2.1 ms a statement at 200k rows in 200 cells, 0.06 ms with these indexes
    # (partition00 is the folder, partition01 the cell). Another layout: no indexes.
    shadow = f"{INDEX}_chunks"
    columns = {str(r[1]) for r in db.execute(f"PRAGMA table_info({shadow})")}
    if {"partition00", "partition01"} <= columns:
        db.execute(
            f"CREATE INDEX IF NOT EXISTS {shadow}_by_cell ON {shadow}(partition01, partition00);"
            f"CREATE INDEX IF NOT EXISTS {shadow}_by_folder ON {shadow}(partition00)"
        )


def quantize(vectors: np.ndarray) -> np.ndarray:
    """Each row as int8 at its own scale (its largest component to 127). The index ranks
    by cosine, which no per-row scale changes, so the scales need not be kept."""
    matrix = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    peak = np.abs(matrix).max(axis=1, keepdims=True)
    return np.clip(np.rint(matrix * (127.0 / np.maximum(peak, 1e-12))), -127, 127).astype(np.int8)


def _dim(db: apsw.Connection) -> int | None:
    row = db.execute("SELECT value FROM meta WHERE key = 'embedding_dim'").fetchone()
    return None if row is None else int(str(row[0]))


# A chunk's row of the index: its folder from the chunk, its cell and code bound.
_INSERT_ROW = (
    f"INSERT INTO {INDEX}(rowid, folder_id, cell, code) SELECT c.id, d.folder_id, ?, "
    "vec_int8(?) FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?"
)


def _insert_rows(
    db: apsw.Connection, ids: Sequence[int], matrix: np.ndarray, centroids: np.ndarray | None
) -> None:
    owner = cells.assign(centroids, matrix).tolist()
    codes = quantize(matrix)
    db.executemany(
        _INSERT_ROW,
        (
            (cell, code.tobytes(), int(cid))
            for cell, code, cid in zip(owner, codes, ids, strict=True)
        ),
    )


def drop(db: apsw.Connection) -> None:
    """Remove the index (a library with no vectors, unbound from its embedder)."""
    db.execute(
        f"DROP TABLE IF EXISTS {FLOATS}; DROP TABLE IF EXISTS {INDEX}; "
        f"DROP TABLE IF EXISTS {LEGACY_CODES};"
    )


def rebuild_index(db: apsw.Connection, batch: int = 50_000) -> int:
    """(Re)build the cells and the int8 index from the stored floats; returns how many
    rows the table holds.

    Used by migration 5 and by compaction (a fresh table has no slots left by deletions,
    and the cells are fitted again to what the library holds now). Runs inside the
    caller's transaction, so a crash leaves the old index whole.
    """
    dim = _dim(db)
    if dim is None or not exists(db):
        return 0
    db.execute(f"DROP TABLE IF EXISTS {INDEX}")
    db.execute(f"DROP TABLE IF EXISTS {LEGACY_CODES}")
    _create_index(db, dim)
    n = count(db)
    n_cells = cells.cell_count(n)
    centroids = None
    if n_cells > 1:
        centroids = cells.train(_sample(db, n_cells * cells.TRAIN_PER_CELL), n_cells)
    cells.store(db, centroids)
    last = 0
    while True:
        ids, matrix = _floats_where(db, "id > ? ORDER BY id LIMIT ?", (last, batch))
        if not len(ids):
            break
        _insert_rows(db, ids.tolist(), matrix, centroids)
        last = int(ids[-1])
    return count_indexed(db)


def refit_if_grown(db: apsw.Connection) -> bool:
    """Rebuild the index with more cells once the library has grown to four times what its
    cells were fitted for (each rebuild costs about what the growth since the last one
    did, so the total stays in proportion). Returns whether it rebuilt."""
    if not exists(db):
        return False
    centroids = cells.load(db)
    if cells.cell_count(count(db)) < 4 * (1 if centroids is None else len(centroids)):
        return False
    rebuild_index(db)
    return True


def _sample(db: apsw.Connection, size: int, seed: int = 0) -> np.ndarray:
    """`size` stored vectors drawn at random (seeded, so a rebuild repeats). Not every
    n-th id: ids follow the order files were indexed in, and a stride that shares a
    period with them samples a biased part (the padded bench libraries cycle through their
    seeds, and `id % 24 = 0` drew 1 in 8 of them: recall@10 0.61 at 1M chunks)."""
    ids = np.fromiter((as_int(r[0]) for r in db.execute(f"SELECT id FROM {FLOATS}")), np.int64)
    if len(ids) > size:
        ids = np.sort(np.random.default_rng(seed).choice(ids, size, replace=False))
    found = vector_matrix(db, ids)[1]
    return found if len(found) else np.zeros((0, _dim(db) or 1), np.float32)


def _floats_where(
    db: apsw.Connection, where: str, args: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    rows = db.execute(f"SELECT id, vector FROM {FLOATS} WHERE {where}", args)
    return _stacked(rows, _dim(db) or 1)


def _stacked(
    rows: Iterable[tuple[apsw.SQLiteValue, ...]], dim: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of (id, float32 blob) rows, the vectors in one buffer; `dim` shapes
    an empty result (None: (0, 0), and the rows' own width otherwise)."""
    ids: list[int] = []
    blobs: list[bytes] = []
    for cid, blob in rows:
        ids.append(as_int(cid))
        blobs.append(as_bytes(blob))
    if dim is None:
        dim = len(blobs[0]) // 4 if blobs else 0
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)
    return np.asarray(ids, dtype=np.int64), matrix


def migrate_from_vec0(db: apsw.Connection) -> int:
    """Move the vectors of a schema-2 library out of its vec0 table; returns how many.

    (Migration 4. It also wrote int8 codes then; migration 5 drops them, so they are no
    longer written here, and builds the bit table from the floats moved here.)
    """
    legacy = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (LEGACY_VEC0,)).fetchone()
    dim = _dim(db)
    if legacy is None or dim is None:
        return 0
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {FLOATS} (id INTEGER PRIMARY KEY, "
        f"vector BLOB NOT NULL CHECK (length(vector) = {4 * dim}))"
    )
    db.execute(f"INSERT INTO {FLOATS}(id, vector) SELECT rowid, embedding FROM {LEGACY_VEC0}")
    db.execute(f"DROP TABLE {LEGACY_VEC0}")
    return count(db)


def insert(db: apsw.Connection, chunk_id: int, vector: np.ndarray) -> None:
    """Store the vector of one chunk (the chunk row must exist: its folder is looked up)."""
    insert_many(db, [chunk_id], np.atleast_2d(vector))


def insert_many(db: apsw.Connection, chunk_ids: Sequence[int], matrix: np.ndarray) -> None:
    """Store the vectors of many chunks (row i belongs to chunk_ids[i]; the chunk rows must
    exist, since each chunk's folder is the bit table's partition key)."""
    floats = np.ascontiguousarray(np.atleast_2d(matrix), dtype=np.float32)
    if len(floats) != len(chunk_ids):
        raise ValueError("one vector per chunk id")
    ids = [int(i) for i in chunk_ids]
    db.executemany(
        f"INSERT INTO {FLOATS}(id, vector) VALUES (?, ?)",
        ((cid, row.tobytes()) for cid, row in zip(ids, floats, strict=True)),
    )
    _insert_rows(db, ids, floats, cells.load(db))


def delete_document(db: apsw.Connection, document_id: int) -> None:
    """Delete the vectors of a document's chunks."""
    _delete_where(db, "SELECT id FROM chunks WHERE document_id = ?", (document_id,))


def delete_folder(db: apsw.Connection, folder_id: int) -> None:
    """Delete the vectors of every chunk of a folder's documents.

    The index rows go by whole partitions: sqlite-vec 0.1.9 deletes a row in about 37 us
    (3.7 s for a folder of 100k chunks, load 9), while the folder's rows are exactly the
    vec0 chunks whose first partition key is the folder, three set-based statements on
    its shadow tables (pinned layout; row by row otherwise).
    """
    chunk_ids = (
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.folder_id = ?"
    )
    db.execute(f"DELETE FROM {FLOATS} WHERE id IN ({chunk_ids})", (folder_id,))
    shadow = f"{INDEX}_chunks"
    columns = {str(r[1]) for r in db.execute(f"PRAGMA table_info({shadow})")}
    if not {"chunk_id", "partition00"} <= columns:
        _delete_rows(db, chunk_ids, (folder_id,))
        return
    blocks = f"SELECT chunk_id FROM {shadow} WHERE partition00 = ?"
    db.execute(f"DELETE FROM {INDEX}_rowids WHERE chunk_id IN ({blocks})", (folder_id,))
    db.execute(f"DELETE FROM {INDEX}_vector_chunks00 WHERE rowid IN ({blocks})", (folder_id,))
    db.execute(f"DELETE FROM {shadow} WHERE partition00 = ?", (folder_id,))


def _delete_where(db: apsw.Connection, chunk_ids_sql: str, args: tuple[int, ...]) -> None:
    db.execute(f"DELETE FROM {FLOATS} WHERE id IN ({chunk_ids_sql})", args)
    _delete_rows(db, chunk_ids_sql, args)


def _delete_rows(db: apsw.Connection, chunk_ids_sql: str, args: tuple[int, ...]) -> None:
    """Delete index rows one rowid at a time: vec0 0.1.9 answers `rowid IN (...)` with a
    scan of the whole table (seconds per document at 1M chunks), `rowid = ?` directly."""
    ids = [(as_int(r[0]),) for r in db.execute(chunk_ids_sql, args)]
    db.executemany(f"DELETE FROM {INDEX} WHERE rowid = ?", ids)


def refolder_document(db: apsw.Connection, document_id: int) -> None:
    """Re-file a document's index rows under its current folder (after a move between
    folders: sqlite-vec 0.1.9 cannot update a partition key, so the rows are rewritten)."""
    ids, matrix = _floats_where(
        db, "id IN (SELECT id FROM chunks WHERE document_id = ?)", (document_id,)
    )
    _delete_rows(db, "SELECT id FROM chunks WHERE document_id = ?", (document_id,))
    _insert_rows(db, ids.tolist(), matrix, cells.load(db))


def vectors_of(db: apsw.Connection, chunk_ids: Sequence[int] | np.ndarray) -> dict[int, np.ndarray]:
    """The stored vectors of these chunks (missing ids are left out)."""
    ids, matrix = vector_matrix(db, chunk_ids)
    return {int(cid): row for cid, row in zip(ids, matrix, strict=True)}


def vector_matrix(
    db: apsw.Connection, chunk_ids: Sequence[int] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The stored vectors of these chunks as (ids, one row each), missing ids left out.
    One buffer for all rows: a search reads about 400 (the vector leg's candidates, then
    the keyword candidates it lacks), and one array a row cost about 0.6 ms more a search
    (100k padded library, the vector and fuse stages, December 8)."""
    ids = [int(i) for i in chunk_ids]

    def rows() -> Iterator[tuple[apsw.SQLiteValue, ...]]:
        for start in range(0, len(ids), 900):  # below SQLite's default limit of variables
            part = ids[start : start + 900]
            marks = ",".join("?" * len(part))
            yield from db.execute(f"SELECT id, vector FROM {FLOATS} WHERE id IN ({marks})", part)

    return _stacked(rows())


def count(db: apsw.Connection) -> int:
    """How many vectors the index holds."""
    row = db.execute(f"SELECT count(*) FROM {FLOATS}").fetchone()
    return int(row[0]) if row else 0


def count_indexed(db: apsw.Connection) -> int:
    """How many rows the int8 index holds (equal to `count` in a sound library)."""
    row = db.execute(f"SELECT count(*) FROM {INDEX}_rowids").fetchone()
    return int(row[0]) if row else 0


def exists(db: apsw.Connection) -> bool:
    """Whether the index was created (a library gets it when an embedder is first bound)."""
    found = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (FLOATS,)).fetchone()
    return found is not None


def orphan_count(db: apsw.Connection) -> int:
    """How many stored vectors or bit rows belong to no chunk, or vectors that lack their
    bit row (a consistency check; should be 0)."""
    row = db.execute(
        f"SELECT (SELECT count(*) FROM {FLOATS} WHERE id NOT IN (SELECT id FROM chunks)) + "
        f"(SELECT count(*) FROM {INDEX}_rowids WHERE rowid NOT IN (SELECT id FROM chunks)) + "
        f"(SELECT count(*) FROM {FLOATS} f WHERE NOT EXISTS "
        f"(SELECT 1 FROM {INDEX}_rowids b WHERE b.rowid = f.id))"
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
