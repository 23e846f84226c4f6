"""The vector search before schema 4, kept as the benchmarks' baseline: the floats copied
into a sqlite-vec `vec0` table and searched exactly there. Only `folio bench` uses it."""

from __future__ import annotations

import apsw
import numpy as np

from desktop.library.columns import as_bytes, as_int
from desktop.library.vectors import FLOATS

BASELINE_VEC0 = "bench_vec0_baseline"


def build_vec0_baseline(db: apsw.Connection, dim: int) -> None:
    """Copy the floats into a sqlite-vec `vec0` table (once), as Folio stored them before
    schema 4, so benchmarks can time that exact search beside the shipped one."""
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (BASELINE_VEC0,)).fetchone()
    if exists is not None:
        return
    with db:
        db.execute(
            f"CREATE VIRTUAL TABLE {BASELINE_VEC0} USING vec0("
            f"embedding float[{int(dim)}] distance_metric=cosine)"
        )
        db.execute(f"INSERT INTO {BASELINE_VEC0}(rowid, embedding) SELECT id, vector FROM {FLOATS}")


def nearest_vec0(db: apsw.Connection, query: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Exact k-nearest through the baseline vec0 table (see `build_vec0_baseline`)."""
    rows = db.execute(
        f"SELECT rowid, distance FROM {BASELINE_VEC0} WHERE embedding MATCH ? AND k = ? "
        "ORDER BY distance",
        (np.ascontiguousarray(query, dtype=np.float32).tobytes(), k),
    )
    return [(int(r), 1.0 - float(d)) for r, d in rows]


def all_vectors(db: apsw.Connection) -> tuple[np.ndarray, np.ndarray]:
    """(ids, float matrix) of every stored vector, for building other indexes to compare."""
    ids: list[int] = []
    blobs: list[bytes] = []
    for cid, blob in db.execute(f"SELECT id, vector FROM {FLOATS} ORDER BY id"):
        ids.append(as_int(cid))
        blobs.append(as_bytes(blob))
    if not blobs:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)
    return np.asarray(ids, dtype=np.int64), matrix
