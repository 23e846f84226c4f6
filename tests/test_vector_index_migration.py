"""Schema 4 to 5 on real SQLite and sqlite-vec: the sign-bit index is built from the stored
floats (nothing embedded again), and a process killed (SIGKILL) in the middle of the
migration leaves a schema-4 library that migrates cleanly on the next open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import apsw
import numpy as np
import sqlite_vec

from desktop.library import pending, vector_search, vectors
from desktop.library.db import connect, schema_version
from desktop.library.migrations import MIGRATIONS

DIM = 384
CHUNKS_PER_DOC = 10


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def schema_4_library(path: Path, matrix: np.ndarray, folders: int = 2) -> None:
    """A library as schema 4 wrote it: floats and int8 codes in plain tables, chunks spread
    over `folders` folders (documents alternate between them)."""
    db = apsw.Connection(str(path))
    db.enable_load_extension(True)
    db.load_extension(sqlite_vec.loadable_path())
    db.execute("PRAGMA journal_mode=WAL")
    for number, migration in enumerate(MIGRATIONS[:4], start=1):
        with db:
            migration(db)
            db.execute(f"PRAGMA user_version={number}")
    n = len(matrix)
    docs = -(-n // CHUNKS_PER_DOC)
    peak = np.abs(matrix).max(axis=1)
    scales = (peak / 127.0).astype(np.float32)
    codes = np.clip(np.rint(matrix / scales[:, None]), -127, 127).astype(np.int8)
    with db:
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('embedding_model', 'test'), "
            f"('embedding_dim', '{DIM}')"
        )
        db.execute(
            "CREATE TABLE chunk_vector_floats (id INTEGER PRIMARY KEY, "
            f"vector BLOB NOT NULL CHECK (length(vector) = {4 * DIM}))"
        )
        db.execute(
            "CREATE TABLE chunk_vector_codes (id INTEGER PRIMARY KEY, "
            f"code BLOB NOT NULL CHECK (length(code) = {4 + DIM}))"
        )
        db.executemany(
            "INSERT INTO folders(id, path, added_at) VALUES (?, ?, 0)",
            ((f, f"/folder{f}") for f in range(1, folders + 1)),
        )
        db.executemany(
            "INSERT INTO documents(id, folder_id, path, size, mtime, status, indexed_at) "
            "VALUES (?, ?, ?, 0, 0, 'indexed', 0)",
            ((d, (d - 1) % folders + 1, f"/doc{d}.txt") for d in range(1, docs + 1)),
        )
        db.executemany(
            "INSERT INTO chunks(id, document_id, ordinal, text, char_start, char_end) "
            "VALUES (?, ?, ?, 'word', 0, 4)",
            ((i, (i - 1) // CHUNKS_PER_DOC + 1, (i - 1) % CHUNKS_PER_DOC) for i in range(1, n + 1)),
        )
        db.executemany(
            "INSERT INTO chunk_vector_floats(id, vector) VALUES (?, ?)",
            ((i + 1, matrix[i].tobytes()) for i in range(n)),
        )
        db.executemany(
            "INSERT INTO chunk_vector_codes(id, code) VALUES (?, ?)",
            ((i + 1, scales[i].tobytes() + codes[i].tobytes()) for i in range(n)),
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _has_table(db: apsw.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def _assert_migrated(db: apsw.Connection, matrix: np.ndarray) -> None:
    n = len(matrix)
    assert schema_version(db) == len(MIGRATIONS) == 6
    assert pending.count(db) == 0  # migration 6: every migrated chunk has its vector
    assert not _has_table(db, vectors.LEGACY_CODES)
    assert vectors.count(db) == vectors.count_indexed(db) == n
    assert vectors.orphan_count(db) == 0
    assert np.array_equal(vectors.vectors_of(db, [n // 2])[n // 2], matrix[n // 2 - 1])
    for i in (0, n // 3, n - 1):  # the floats came through untouched: each finds itself
        assert vector_search.nearest(db, matrix[i], 1)[0][0] == i + 1
    # The partition key holds each chunk's folder: chunk 1 is in folder 1, chunk 11 in 2.
    assert {c for c, _ in vector_search.nearest(db, matrix[10], 5, folder_id=1)}.isdisjoint({11})
    assert vector_search.nearest(db, matrix[10], 1, folder_id=2)[0][0] == 11


def test_a_schema_4_library_migrates_without_embedding_again(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite"
    matrix = _unit(np.random.default_rng(4), 3000)
    schema_4_library(path, matrix)
    db = connect(path)
    _assert_migrated(db, matrix)
    db.close()


_MIGRATE = "from desktop.library.db import connect; connect({path!r}).close(); print('done')"


def test_kill_9_during_the_migration_leaves_schema_4_whole(tmp_path: Path) -> None:
    """The migration of 60,000 chunks takes about a second; the child is killed as soon as
    the migration's writes reach the write-ahead log, long before it commits."""
    path = tmp_path / "lib.sqlite"
    matrix = _unit(np.random.default_rng(8), 60_000)
    schema_4_library(path, matrix)
    wal = Path(f"{path}-wal")
    child = subprocess.Popen(
        [sys.executable, "-c", _MIGRATE.format(path=str(path))],
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if wal.exists() and wal.stat().st_size > 1_000_000:
            break
        time.sleep(0.002)
    assert child.poll() is None, "the migration finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.stdout is not None and child.stdout.read() == b""

    # What the killed process left: schema 4, its floats and codes whole, no bit table.
    raw = apsw.Connection(str(path))
    raw.enable_load_extension(True)
    raw.load_extension(sqlite_vec.loadable_path())
    assert schema_version(raw) == 4
    assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not _has_table(raw, vectors.INDEX)
    assert raw.execute("SELECT count(*) FROM chunk_vector_codes").fetchone() == (60_000,)
    raw.close()

    db = connect(path)  # the next open migrates it
    _assert_migrated(db, matrix)
    db.close()
