"""Searching the vector index (`desktop.library.vectors`): the chunks nearest to a query.

`nearest` finds the chunks nearest by the cosine of their int8 codes (in a library with
cells, only in the `PROBES` cells nearest to the query; the cells' blocks are read from
sqlite-vec's storage and scored in numpy, `desktop.library.vec0_scan`, or by vec0's own
KNN where that storage is not the pinned layout), then rescores just those with the
exact floats. With a folder, only that folder's chunks, filtered inside the scan (the
folder is a partition key), so still k of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import apsw
import numpy as np

from desktop.library import cells, folder_scope, vec0_scan
from desktop.library.columns import as_int
from desktop.library.vectors import FLOATS, INDEX, quantize, vector_matrix

# Candidates the int8 pass hands to the exact rescoring (at least; more when more results
# are asked for), and cells probed in a library with cells (`desktop.library.cells`: about
# 100 rows a cell, 1,024 cells at 100k chunks, 4,096 at 1M). Chosen on the padded bench
# libraries (real MiniLM vectors plus noise, 20 SciFact queries, recall@10 against exact
# search, vector leg p50 warm, load 6): at 100k 8 cells gave 0.965 in 1.3 ms, 16 0.985 in
# 2.0 ms, 24 0.995 in 3.9 ms, 32 0.995 in 4.4 ms; at 1M 16 cells 0.985 in 9.9 ms, 24 0.995
# in 12.9 ms, 32 0.995 in 16.7 ms. 100 candidates instead of 64 changed no recall there.
CANDIDATES = 64
PROBES = 24
# Score the probed cells' codes in numpy from vec0's blocks (`desktop.library.vec0_scan`)
# rather than by one vec0 KNN statement per cell: same rows; at 1M, 16 cells 9.9 ms
# against 24.5 ms by vec0's statements (load 6; docs/BENCHMARKS.md has both, same run).
SCORE_IN_NUMPY = True


def nearest(
    db: apsw.Connection, query: np.ndarray, k: int, folder_id: int | None = None
) -> list[tuple[int, float]]:
    """The `k` chunks nearest to `query`, as (chunk id, cosine similarity), best first.

    int8 codes in sqlite-vec (in the cells nearest to the query) for the best
    `CANDIDATES`, then the exact floats of those. With `folder_id`, only that folder's
    chunks (filtered inside the KNN, so still k).
    """
    if k <= 0:
        return []
    return rescore(db, query, candidates(db, query, max(CANDIDATES, k), folder_id), k)


def candidates(
    db: apsw.Connection, query: np.ndarray, wanted: int, folder_id: int | None = None
) -> list[int]:
    """Ids of the `wanted` chunks nearest to `query` by the cosine of int8 codes: over the
    whole library (or folder) when it has one cell, else over the `PROBES` cells nearest
    to the query (each cell's best `wanted`, then the best `wanted` of them all)."""
    q = np.ascontiguousarray(query, dtype=np.float32)
    centroids = cells.load(db)
    if centroids is not None and (folder_id is None or not _small_folder(db, folder_id)):
        probe = cells.nearest(centroids, q, PROBES)
        found = _codes(db, q, wanted, folder_id, probe)
        if len(found) >= wanted or folder_id is None:
            return found
        # Too few of the folder's chunks in the probed cells: scan all of its cells.
    return _codes(db, q, wanted, folder_id, None)


def _codes(
    db: apsw.Connection, q: np.ndarray, wanted: int, folder_id: int | None, probe: list[int] | None
) -> list[int]:
    """The best `wanted` by int8 codes in the probed cells (None: all), scored in numpy
    from vec0's blocks (`desktop.library.vec0_scan`), or by vec0's own KNN where its
    storage is not the pinned layout or `SCORE_IN_NUMPY` is off."""
    if SCORE_IN_NUMPY:
        found = vec0_scan.nearest_codes(db, INDEX, q, wanted, probe, folder_id)
        if found is not None:
            return found
    rows = _knn(db, quantize(q)[0].tobytes(), wanted, folder_id, probe)
    return [cid for cid, _ in sorted(rows, key=lambda r: (r[1], r[0]))[:wanted]]


def _small_folder(db: apsw.Connection, folder_id: int) -> bool:
    """Whether the folder has at most `folder_scope.SMALL_FOLDER` chunks. Such a folder
    is scanned whole: probing cells found only the folder's few chunks that lie in them
    (recall@10 0.40 for a folder of 1 % of 1M)."""
    return folder_scope.small_folder_chunks(db, folder_id) is not None


def _knn(
    db: apsw.Connection,
    code: bytes,
    k: int,
    folder_id: int | None,
    probe: list[int] | None,
) -> list[tuple[int, float]]:
    """sqlite-vec's KNN on the int8 codes, filtered inside the KNN by the partition keys.
    With `probe`, each listed cell gives its own best `k`, one statement per cell:
    sqlite-vec 0.1.9 accepts `cell IN (...)` but its answer was not each cell's best
    (distances 155+ where the cell alone gave 84), so it is not used."""
    sql = f"SELECT rowid, distance FROM {INDEX} WHERE code MATCH vec_int8(?) AND k = ?"
    args: list[bytes | int] = [code, int(k)]
    if folder_id is not None:
        sql += " AND folder_id = ?"
        args.append(int(folder_id))
    if probe is None:
        return [(as_int(r), float(d)) for r, d in db.execute(sql, args)]
    sql += " AND cell = ?"
    out: list[tuple[int, float]] = []
    for cell in probe:
        out.extend((as_int(r), float(d)) for r, d in db.execute(sql, [*args, cell]))
    return out


def nearest_exact(
    db: apsw.Connection, query: np.ndarray, k: int, folder_id: int | None = None
) -> list[tuple[int, float]]:
    """Exact k-nearest by cosine over every stored vector (a full scan in SQLite)."""
    blob = np.ascontiguousarray(query, dtype=np.float32).tobytes()
    if folder_id is None:
        rows = db.execute(
            f"SELECT id, vec_distance_cosine(vector, ?) AS d FROM {FLOATS} ORDER BY d, id LIMIT ?",
            (blob, k),
        )
    else:
        rows = db.execute(
            f"SELECT f.id, vec_distance_cosine(f.vector, ?) AS d FROM {FLOATS} f "
            "JOIN chunks c ON c.id = f.id JOIN documents doc ON doc.id = c.document_id "
            "WHERE doc.folder_id = ? ORDER BY d, f.id LIMIT ?",
            (blob, int(folder_id), k),
        )
    return [(int(r), 1.0 - float(d)) for r, d in rows]


def rescore(
    db: apsw.Connection, query: np.ndarray, candidates: Sequence[int] | np.ndarray, k: int
) -> list[tuple[int, float]]:
    """Exact cosine of `query` with each candidate's float vector; the best `k`."""
    ids, matrix = vector_matrix(db, candidates)
    if not len(ids):
        return []
    sims = dot(matrix, np.asarray(query, dtype=np.float32))
    order = np.lexsort((ids, -sims))[:k]  # best first, ties by id so results repeat
    return [(int(ids[i]), float(sims[i])) for i in order]


def dot(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """rows @ query without BLAS: OpenBLAS splits even small products over threads, and on a
    busy 2-core machine waiting for the second thread cost 30 ms where numpy's own loop
    takes 1 ms."""
    return np.einsum("ij,j->i", rows.astype(np.float32, copy=False), query)
