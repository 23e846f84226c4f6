"""The vector index on real SQLite and sqlite-vec: the int8 KNN (in cells) plus exact rescoring
against exact search, the folder filter inside the KNN, additions and deletions seen by
another connection, and the move of schema-2 vectors out of vec0."""

from __future__ import annotations

from pathlib import Path

import apsw
import numpy as np
import pytest
import sqlite_vec

from desktop.bench import numpy_baseline
from desktop.library import cells, vector_search, vectors
from desktop.library.db import connect
from desktop.library.store import Library


def _unit(rng: np.random.Generator, n: int, dim: int = 384) -> np.ndarray:
    # Clustered like real embeddings: a shared direction plus per-cluster offsets.
    centers = rng.standard_normal((max(1, n // 50), dim)).astype(np.float32)
    x = centers[rng.integers(0, len(centers), n)] + 0.6 * rng.standard_normal((n, dim))
    x = x.astype(np.float32) + 0.5
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _near(rng: np.random.Generator, matrix: np.ndarray, n: int) -> np.ndarray:
    """Queries near stored vectors, as real questions are near their passages (a random
    direction is about equally far from every vector, and its "nearest" are arbitrary)."""
    x = matrix[rng.integers(0, len(matrix), n)] + 0.04 * rng.standard_normal((n, 384))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _library(tmp_path: Path, matrix: np.ndarray) -> Library:
    lib = Library(tmp_path / "lib.sqlite")
    lib.bind_embedder("test-embedder", matrix.shape[1])
    with lib.db:
        lib.db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/f', 0)")
        lib.db.executemany(
            "INSERT INTO documents(id, folder_id, path, size, mtime, status, indexed_at) "
            "VALUES (?, 1, ?, 0, 0, 'indexed', 0)",
            ((d, f"/f/{d}.txt") for d in range(1, len(matrix) // 10 + 2)),
        )
        lib.db.executemany(
            "INSERT INTO chunks(id, document_id, ordinal, text, char_start, char_end) "
            "VALUES (?, ?, ?, 'x', 0, 1)",
            ((i, (i - 1) // 10 + 1, (i - 1) % 10) for i in range(1, len(matrix) + 1)),
        )
        vectors.insert_many(lib.db, list(range(1, len(matrix) + 1)), matrix)
    return lib


def test_int8_pass_then_exact_floats_matches_exact_search(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    matrix = _unit(rng, 6000)
    lib = _library(tmp_path, matrix)
    recalls = []
    for q in _near(rng, matrix, 20):
        exact = np.argsort(-(matrix @ q), kind="stable")[:10] + 1
        found = vector_search.nearest(lib.db, q, 10)
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
        cid, sim = found[0]
        assert sim == pytest.approx(float(matrix[cid - 1] @ q), abs=1e-5)  # exact floats
        recalls.append(len({c for c, _ in found} & set(exact.tolist())) / 10)
        assert [c for c, _ in vector_search.nearest_exact(lib.db, q, 10)] == exact.tolist()
    assert np.mean(recalls) >= 0.95
    assert vectors.count_indexed(lib.db) == 6000 and vectors.orphan_count(lib.db) == 0
    lib.close()


def test_stored_vectors_read_as_one_matrix(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    matrix = _unit(rng, 50)
    lib = _library(tmp_path, matrix)
    ids, rows = vectors.vector_matrix(lib.db, [9, 999, 2, 9])
    assert sorted(ids.tolist()) == [2, 9]  # the missing id left out, a repeat read once
    for cid, row in zip(ids.tolist(), rows, strict=True):
        assert np.array_equal(row, matrix[cid - 1])
    assert set(vectors.vectors_of(lib.db, [2, 999])) == {2}
    empty_ids, empty = vectors.vector_matrix(lib.db, [])
    assert len(empty_ids) == 0 and empty.shape[0] == 0
    q = _near(rng, matrix, 1)[0]
    # The fill's cosines (a keyword candidate the vector leg missed) are the exact ones.
    from desktop.library.search import missing_cosines

    cos = missing_cosines(lib.db, q, [(1, 0.0)], [(1, 0.0), (5, 0.0), (999, 0.0)])
    assert set(cos) == {5} and cos[5] == pytest.approx(float(matrix[4] @ q), abs=1e-6)
    lib.close()


def test_folder_filter_is_inside_the_knn(tmp_path: Path) -> None:
    """A folder of 20 chunks far from the query, beside 3,000 chunks near it: the scoped
    search still returns 10, all from the folder, and they are the folder's exact best."""
    rng = np.random.default_rng(5)
    matrix = _unit(rng, 3000)
    lib = _library(tmp_path, matrix)
    q = matrix[0]
    far = _unit(rng, 20) * -1.0  # the opposite side: nowhere near the query
    with lib.db:
        lib.db.execute("INSERT INTO folders(id, path, added_at) VALUES (2, '/g', 0)")
        lib.db.execute(
            "INSERT INTO documents(id, folder_id, path, size, mtime, status, indexed_at) "
            "VALUES (9000, 2, '/g/a.txt', 0, 0, 'indexed', 0)"
        )
        ids = list(range(10_001, 10_021))
        lib.db.executemany(
            "INSERT INTO chunks(id, document_id, ordinal, text, char_start, char_end) "
            "VALUES (?, 9000, ?, 'y', 0, 1)",
            ((cid, i) for i, cid in enumerate(ids)),
        )
        vectors.insert_many(lib.db, ids, far)
    unscoped = [c for c, _ in vector_search.nearest(lib.db, q, 10)]
    assert not set(unscoped) & set(ids)
    scoped = vector_search.nearest(lib.db, q, 10, folder_id=2)
    exact = [c for c, _ in vector_search.nearest_exact(lib.db, q, 10, folder_id=2)]
    assert [c for c, _ in scoped] == exact and len(exact) == 10
    assert len(vector_search.nearest(lib.db, q, 50, folder_id=2)) == 20
    lib.close()


def test_search_follows_additions_and_deletions_by_another_connection(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    matrix = _unit(rng, 3000)
    reader = _library(tmp_path, matrix)
    q = matrix[10]
    assert vector_search.nearest(reader.db, q, 1)[0][0] == 11
    writer = Library(tmp_path / "lib.sqlite")
    with writer.db:  # a new chunk identical to the query, from another connection
        writer.db.execute(
            "INSERT INTO chunks(id, document_id, ordinal, text, char_start, char_end) "
            "VALUES (5000, 1, 99, 'x', 0, 1)"
        )
        vectors.insert(writer.db, 5000, q)
    assert {c for c, _ in vector_search.nearest(reader.db, q, 2)} == {11, 5000}
    with writer.db:  # document 2 holds chunks 11..20
        vectors.delete_document(writer.db, 2)
        writer.db.execute("DELETE FROM chunks WHERE document_id = 2")
    found = [c for c, _ in vector_search.nearest(reader.db, q, 5)]
    assert found[0] == 5000 and not set(found) & set(range(11, 21))
    assert vectors.count(reader.db) == 3000 - 10 + 1
    writer.close()
    reader.close()


def test_migration_moves_schema_2_vectors_out_of_vec0(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = apsw.Connection(str(path))
    db.enable_load_extension(True)
    db.load_extension(sqlite_vec.loadable_path())
    from desktop.library.migrations import MIGRATIONS

    for number, migration in enumerate(MIGRATIONS[:2], start=1):  # a schema-2 library
        with db:
            migration(db)
            db.execute(f"PRAGMA user_version={number}")
    rng = np.random.default_rng(1)
    matrix = _unit(rng, 50, dim=8)
    with db:
        db.execute("INSERT INTO meta(key, value) VALUES ('embedding_dim', '8')")
        db.execute(
            "CREATE VIRTUAL TABLE chunk_vectors USING vec0("
            "embedding float[8] distance_metric=cosine)"
        )
        for i, v in enumerate(matrix, start=1):
            db.execute(
                "INSERT INTO chunk_vectors(rowid, embedding) VALUES (?, ?)", (i, v.tobytes())
            )
    db.close()
    db = connect(path)  # applies migrations 4 and 5
    assert (
        db.execute("SELECT name FROM sqlite_master WHERE name = 'chunk_vectors'").fetchone() is None
    )
    assert vectors.count(db) == 50
    stored = vectors.vectors_of(db, [7])[7]
    assert np.array_equal(stored, matrix[6])
    assert vector_search.nearest_exact(db, matrix[6], 1)[0][0] == 7
    assert vectors.count_indexed(db) == 0  # these vectors belong to no chunk: no folder
    db.close()


def test_a_vector_of_another_width_is_refused(tmp_path: Path) -> None:
    lib = _library(tmp_path, _unit(np.random.default_rng(2), 20, dim=8))
    with pytest.raises(apsw.ConstraintError), lib.db:
        vectors.insert(lib.db, 99, np.ones(4, dtype=np.float32))
    assert vectors.count(lib.db) == 20
    lib.close()


def test_the_numpy_baseline_quantizes_within_a_step() -> None:
    rng = np.random.default_rng(0)
    x = _unit(rng, 10)
    scales, codes = numpy_baseline.quantize(x)
    assert codes.dtype == np.int8 and np.abs(codes).max() == 127
    assert np.abs(codes * scales[:, None] - x).max() <= scales.max() / 2 + 1e-7
    bits = numpy_baseline.binary_codes(x)
    assert bits.shape == (10, 48)
    assert np.array_equal(np.unpackbits(bits, axis=1).astype(bool), x > 0)


def test_the_numpy_baseline_agrees_with_the_index(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    matrix = _unit(rng, 3000)
    lib = _library(tmp_path, matrix)
    q = matrix[42]
    assert (
        numpy_baseline.nearest(lib.db, q, 3)[0][0]
        == vector_search.nearest(lib.db, q, 3)[0][0]
        == 43
    )
    lib.close()


def test_a_library_with_cells_searches_the_nearest_cells_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cells (k-means partitions) on a small library, by lowering the thresholds: the
    rebuild fits them, the search probes some cells only and still finds the exact best,
    a small folder falls back to a scan of all of its cells, and additions are filed in
    the cell of their nearest centroid."""
    monkeypatch.setattr(cells, "MIN_CHUNKS", 1000)
    monkeypatch.setattr(cells, "ROWS_PER_CELL", 100)
    monkeypatch.setattr(vector_search, "PROBES", 8)
    rng = np.random.default_rng(11)
    matrix = _unit(rng, 6000)
    lib = _library(tmp_path, matrix)
    with lib.db:
        assert vectors.rebuild_index(lib.db) == 6000
    centroids = cells.load(lib.db)
    assert centroids is not None and len(centroids) == 64
    q = matrix[123]
    probe = cells.nearest(centroids, q, 8)
    found = vector_search.candidates(lib.db, q, 50)
    owner = cells.assign(centroids, matrix[np.asarray(found) - 1])
    assert set(owner.tolist()) <= set(probe)  # only the probed cells were searched
    assert vector_search.nearest(lib.db, q, 1)[0][0] == 124
    recalls = []
    for query in _near(rng, matrix, 10):
        exact = {c for c, _ in vector_search.nearest_exact(lib.db, query, 10)}
        recalls.append(len(exact & {c for c, _ in vector_search.nearest(lib.db, query, 10)}) / 10)
    assert np.mean(recalls) >= 0.9
    with lib.db:  # a folder of 3 chunks: far fewer than the probed cells hold
        lib.db.execute("INSERT INTO folders(id, path, added_at) VALUES (2, '/g', 0)")
        lib.db.execute(
            "INSERT INTO documents(id, folder_id, path, size, mtime, status, indexed_at) "
            "VALUES (9000, 2, '/g/a.txt', 0, 0, 'indexed', 0)"
        )
        lib.db.executemany(
            "INSERT INTO chunks(id, document_id, ordinal, text, char_start, char_end) "
            "VALUES (?, 9000, ?, 'y', 0, 1)",
            ((cid, i) for i, cid in enumerate((7001, 7002, 7003))),
        )
        vectors.insert_many(lib.db, [7001, 7002, 7003], -_unit(rng, 3))
    assert sorted(c for c, _ in vector_search.nearest(lib.db, q, 10, folder_id=2)) == [
        7001,
        7002,
        7003,
    ]
    lib.close()


def test_cells_are_refitted_once_the_library_has_grown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cells, "MIN_CHUNKS", 1000)
    monkeypatch.setattr(cells, "ROWS_PER_CELL", 100)
    lib = _library(tmp_path, _unit(np.random.default_rng(12), 3000))
    assert cells.load(lib.db) is None  # built one insert at a time: one cell
    with lib.db:
        assert vectors.refit_if_grown(lib.db)
    fitted = cells.load(lib.db)
    assert fitted is not None and len(fitted) == 32
    with lib.db:
        assert not vectors.refit_if_grown(lib.db)  # not grown since
    assert vectors.count_indexed(lib.db) == 3000 and vectors.orphan_count(lib.db) == 0
    lib.close()
