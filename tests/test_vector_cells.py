"""The cells of the vector index on real SQLite and sqlite-vec, with the thresholds lowered
so a few thousand vectors get dozens of cells: the cells are fitted to every part of the
library, and the probed cells scored in numpy from vec0's blocks give what vec0's own KNN
gives, deleted rows left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop.library import cells, folder_scope, vec0_scan, vector_search, vectors
from desktop.library.store import Library

from .test_search_vectors import _library, _near, _unit


def _cycling(rng: np.random.Generator, n: int, clusters: int) -> np.ndarray:
    """Chunk i (id i + 1) belongs to cluster i % clusters: ids cycle through the clusters,
    as the padded bench libraries cycle through their seeds."""
    centers = rng.standard_normal((clusters, 384)).astype(np.float32)
    x = centers[np.arange(n) % clusters] + 0.5 * rng.standard_normal((n, 384)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _recall(lib: Library, queries: np.ndarray, folder_id: int | None = None) -> float:
    found = []
    for q in queries:
        exact = {c for c, _ in vector_search.nearest_exact(lib.db, q, 10, folder_id)}
        got = {c for c, _ in vector_search.nearest(lib.db, q, 10, folder_id)}
        found.append(len(exact & got) / 10)
    return float(np.mean(found))


def test_cells_fit_every_cluster_when_ids_cycle_through_them(
    tmp_path: Path, small_cells: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """6,400 vectors in 64 clusters, ids cycling through them; 64 cells fitted on 640
    samples. A sample of every 10th id saw only half the clusters (10 and 64 share a
    factor), and probing 4 cells then missed most of the other half's neighbours."""
    monkeypatch.setattr(vector_search, "PROBES", 4)
    rng = np.random.default_rng(21)
    matrix = _cycling(rng, 6400, 64)
    lib = _library(tmp_path, matrix)
    with lib.db:
        vectors.rebuild_index(lib.db)
    centroids = cells.load(lib.db)
    assert centroids is not None and len(centroids) == 64
    # most clusters have a centroid near their mean (every 10th id: exactly 32 of 64, the
    # half it sampled; recall then 0.66-0.86 on seeds 21-23)
    means = np.stack([matrix[np.arange(len(matrix)) % 64 == c].mean(0) for c in range(64)])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    assert ((means @ centroids.T).max(axis=1) > 0.8).sum() >= 40
    assert _recall(lib, _near(rng, matrix, 20)) >= 0.95
    lib.close()


def _rows(db: object, q: np.ndarray, wanted: int, folder: int | None, probe: list[int] | None):
    code = vectors.quantize(q)[0].tobytes()
    knn = vector_search._knn(db, code, wanted, folder, probe)  # type: ignore[arg-type]
    return [cid for cid, _ in sorted(knn, key=lambda r: (r[1], r[0]))[:wanted]]


def test_numpy_scoring_of_vec0_blocks_gives_vec0s_own_knn(
    tmp_path: Path, small_cells: None
) -> None:
    rng = np.random.default_rng(22)
    matrix = _unit(rng, 4000)
    lib = _library(tmp_path, matrix)
    with lib.db:
        vectors.rebuild_index(lib.db)
        vectors.delete_document(lib.db, 5)  # chunks 41-50: slots left invalid in their blocks
        lib.db.execute("DELETE FROM chunks WHERE document_id = 5")
    centroids = cells.load(lib.db)
    assert centroids is not None and len(centroids) == 32
    deleted = set(range(41, 51))
    for q in [matrix[44], *_near(rng, matrix, 5)]:
        for probe in (cells.nearest(centroids, q, 6), None):
            for folder in (None, 1):
                got = vec0_scan.nearest_codes(lib.db, vectors.INDEX, q, 30, probe, folder)
                assert got is not None and len(got) == 30 and not deleted & set(got)
                # same rows as vec0's KNN; the order may differ only between near-ties
                assert set(got) == set(_rows(lib.db, q, 30, folder, probe))
    assert vec0_scan.nearest_codes(lib.db, "no_such_index", matrix[0], 5, None, None) is None
    lib.close()


def test_a_folder_search_in_a_library_with_cells_keeps_to_the_folder(
    tmp_path: Path, small_cells: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second folder holding every 20th document, scanned whole (it is small), and the
    same with the small-folder rule off, where the 2 probed cells hold too few of its
    chunks and all of its cells are scanned."""
    monkeypatch.setattr(vector_search, "PROBES", 2)
    rng = np.random.default_rng(23)
    matrix = _unit(rng, 5000)
    lib = _library(tmp_path, matrix)
    with lib.db:
        lib.db.execute("INSERT INTO folders(id, path, added_at) VALUES (2, '/g', 0)")
        lib.db.execute("UPDATE documents SET folder_id = 2 WHERE id % 20 = 0")
        for doc in range(20, 501, 20):
            vectors.refolder_document(lib.db, doc)
        vectors.rebuild_index(lib.db)
    ours = {
        int(r[0])
        for r in lib.db.execute(
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE d.folder_id = 2"
        )
    }
    queries = _near(rng, matrix, 10)
    for small in (20_000, 0):
        monkeypatch.setattr(folder_scope, "SMALL_FOLDER", small)
        assert _recall(lib, queries, folder_id=2) >= 0.95
        for q in queries[:3]:
            assert {c for c, _ in vector_search.nearest(lib.db, q, 10, 2)} <= ours
    lib.close()
