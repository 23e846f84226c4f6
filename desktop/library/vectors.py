"""The vector index of a library: the one place that creates, writes, deletes and reads the
chunk embeddings (a sqlite-vec `vec0` table keyed by chunk id).

Every other module goes through these functions, so the index's layout (exact float search
today) can change in one place. All writes run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import apsw
import numpy as np

TABLE = "chunk_vectors"


def create(db: apsw.Connection, dim: int) -> None:
    """Create the index for vectors of `dim` dimensions, if it does not exist yet."""
    db.execute(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING vec0("
        f"embedding float[{int(dim)}] distance_metric=cosine)"
    )


def insert(db: apsw.Connection, chunk_id: int, vector: np.ndarray) -> None:
    """Store the vector of one chunk."""
    db.execute(
        f"INSERT INTO {TABLE}(rowid, embedding) VALUES (?, ?)",
        (chunk_id, np.ascontiguousarray(vector, dtype=np.float32).tobytes()),
    )


def delete_document(db: apsw.Connection, document_id: int) -> None:
    """Delete the vectors of a document's chunks (vec0 tables know no foreign keys)."""
    db.execute(
        f"DELETE FROM {TABLE} WHERE rowid IN (SELECT id FROM chunks WHERE document_id = ?)",
        (document_id,),
    )


def delete_folder(db: apsw.Connection, folder_id: int) -> None:
    """Delete the vectors of every chunk of a folder's documents, in one statement."""
    db.execute(
        f"DELETE FROM {TABLE} WHERE rowid IN (SELECT c.id FROM chunks c "
        "JOIN documents d ON d.id = c.document_id WHERE d.folder_id = ?)",
        (folder_id,),
    )


def nearest(db: apsw.Connection, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The `k` chunks nearest to `query`, as (chunk id, cosine similarity), best first."""
    rows = db.execute(
        f"SELECT rowid, distance FROM {TABLE} WHERE embedding MATCH ? AND k = ? ORDER BY distance",
        (np.ascontiguousarray(query, dtype=np.float32).tobytes(), k),
    )
    return [(int(r), 1.0 - float(d)) for r, d in rows]


def vectors_of(db: apsw.Connection, chunk_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """The stored vectors of these chunks (missing ids are left out)."""
    if not chunk_ids:
        return {}
    marks = ",".join("?" * len(chunk_ids))
    rows = db.execute(
        f"SELECT rowid, embedding FROM {TABLE} WHERE rowid IN ({marks})", tuple(chunk_ids)
    )
    return {int(r): np.frombuffer(blob, dtype=np.float32) for r, blob in rows}


def count(db: apsw.Connection) -> int:
    """How many vectors the index holds."""
    row = db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    return int(row[0]) if row else 0


def exists(db: apsw.Connection) -> bool:
    """Whether the index was created (a library gets it when an embedder is first bound)."""
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (TABLE,)).fetchone() is not None


def orphan_count(db: apsw.Connection) -> int:
    """How many stored vectors belong to no chunk (a consistency check; should be 0)."""
    row = db.execute(
        f"SELECT count(*) FROM {TABLE} WHERE rowid NOT IN (SELECT id FROM chunks)"
    ).fetchone()
    return int(row[0]) if row else 0
