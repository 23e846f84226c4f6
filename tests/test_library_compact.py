"""Deleting a folder and compacting, on real SQLite, FTS5 and sqlite-vec: nothing of the
folder stays behind (floats, sign bits, keyword rows), also when the deleting process is
killed (SIGKILL) in the middle, and `compact` gives the space back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from desktop.library import vector_search, vectors
from desktop.library.compact import UNSETTLED, compact, file_bytes
from desktop.library.health import problems
from desktop.library.store import Library

DIM = 384
PER_DOC = 10


def _library(path: Path, per_folder: tuple[int, ...], seed: int = 0) -> Library:
    """A library with these many chunks in folders 1, 2, ... (real tables, bulk inserts)."""
    rng = np.random.default_rng(seed)
    lib = Library(path)
    lib.bind_embedder("test-embedder", DIM)
    words = np.array("pump valve river station bearing cooling winter report energy".split())
    next_chunk, next_doc = 1, 1
    with lib.db:
        for folder, n in enumerate(per_folder, start=1):
            lib.db.execute(
                "INSERT INTO folders(id, path, added_at) VALUES (?, ?, 0)", (folder, f"/f{folder}")
            )
            docs = range(next_doc, next_doc + -(-n // PER_DOC))
            lib.db.executemany(
                "INSERT INTO documents(id, folder_id, path, size, mtime, status, indexed_at) "
                "VALUES (?, ?, ?, 0, 0, 'indexed', 0)",
                ((d, folder, f"/f{folder}/{d}.txt") for d in docs),
            )
            ids = list(range(next_chunk, next_chunk + n))
            lib.db.executemany(
                "INSERT INTO chunks(id, document_id, ordinal, text, char_start, char_end) "
                "VALUES (?, ?, ?, ?, 0, 1)",
                (
                    (cid, next_doc + i // PER_DOC, i % PER_DOC, " ".join(rng.choice(words, 12)))
                    for i, cid in enumerate(ids)
                ),
            )
            matrix = rng.standard_normal((n, DIM)).astype(np.float32)
            vectors.insert_many(lib.db, ids, matrix / np.linalg.norm(matrix, axis=1)[:, None])
            next_chunk += n
            next_doc = docs.stop
    return lib


def _counts(lib: Library) -> tuple[int, int, int, int]:
    def one(sql: str) -> int:
        row = lib.db.execute(sql).fetchone()
        return int(row[0]) if row else 0

    return (
        one("SELECT count(*) FROM chunks"),
        vectors.count(lib.db),
        vectors.count_indexed(lib.db),
        one("SELECT count(*) FROM chunks_fts_docsize"),
    )


def test_removing_a_folder_leaves_nothing_behind_and_compact_shrinks_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lib.sqlite"
    lib = _library(path, (20_000, 500))
    lib.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    query = vectors.vectors_of(lib.db, [20_001])[20_001]
    lib.remove_folder(1)
    assert _counts(lib) == (500, 500, 500, 500)
    assert vectors.orphan_count(lib.db) == 0
    # The keyword index holds no trace of the removed chunks (its own integrity check).
    lib.db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    assert problems(lib.db) == []
    lib.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    report = compact(lib.db, path)
    assert report.bytes_after < report.bytes_before / 5, report
    assert file_bytes(path) == report.bytes_after
    assert _counts(lib) == (500, 500, 500, 500) and problems(lib.db) == []
    assert vector_search.nearest(lib.db, query, 1)[0][0] == 20_001
    assert len(vector_search.nearest(lib.db, query, 10, folder_id=2)) == 10
    lib.close()


def test_a_removed_folder_can_be_indexed_again(tmp_path: Path) -> None:
    """Both ways of deleting a folder's keyword rows leave a sound index, and the index
    rows go by whole sqlite-vec partitions: new rows in the same folder id afterwards land
    in fresh ones and are found."""
    lib = _library(tmp_path / "lib.sqlite", (3000, 200, 200))
    lib.remove_folder(3)  # the small one: its keyword rows go one by one
    assert _counts(lib) == (3200,) * 4 and problems(lib.db) == []
    lib.remove_folder(1)  # most of the library: the keyword index is rebuilt instead
    again = _library(tmp_path / "other.sqlite", (50,), seed=3)
    rows = again.db.execute("SELECT id FROM chunks ORDER BY id").fetchall()
    moved = vectors.vectors_of(again.db, [int(r[0]) for r in rows])
    again.close()
    with lib.db:
        lib.db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/f1', 0)")
        lib.db.execute(
            "INSERT INTO documents(id, folder_id, path, size, mtime, status, indexed_at) "
            "VALUES (1, 1, '/f1/new.txt', 0, 0, 'indexed', 0)"
        )
        ids = list(range(90_001, 90_051))
        lib.db.executemany(
            "INSERT INTO chunks(id, document_id, ordinal, text, char_start, char_end) "
            "VALUES (?, 1, ?, 'pump', 0, 1)",
            ((cid, i) for i, cid in enumerate(ids)),
        )
        vectors.insert_many(lib.db, ids, np.stack(list(moved.values())))
    assert _counts(lib) == (250, 250, 250, 250) and vectors.orphan_count(lib.db) == 0
    first = next(iter(moved.values()))
    assert vector_search.nearest(lib.db, first, 1, folder_id=1)[0][0] == 90_001
    assert len(vector_search.nearest(lib.db, first, 20, folder_id=1)) == 20
    assert problems(lib.db) == []
    lib.close()


_REMOVE = (
    "from desktop.library.store import Library; lib = Library({path!r}); "
    "lib.remove_folder(1); print('done')"
)


def test_kill_9_during_a_folder_delete_leaves_no_strays(tmp_path: Path) -> None:
    """The delete of 60,000 chunks is killed once its writes reach the write-ahead log:
    afterwards the folder is whole (the transaction never committed), every chunk has its
    float, sign bits and keyword row, and deleting again leaves nothing behind."""
    path = tmp_path / "lib.sqlite"
    lib = _library(path, (60_000, 300), seed=1)
    lib.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lib.close()
    wal = Path(f"{path}-wal")
    child = subprocess.Popen(
        [sys.executable, "-c", _REMOVE.format(path=str(path))],
        stdout=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if wal.exists() and wal.stat().st_size > 1_000_000:
            break
        time.sleep(0.002)
    assert child.poll() is None, "the delete finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.stdout is not None and child.stdout.read() == b""

    with Library(path) as lib:
        assert _counts(lib) == (60_300,) * 4
        assert vectors.orphan_count(lib.db) == 0 and problems(lib.db) == []
        lib.remove_folder(1)
        assert _counts(lib) == (300,) * 4
        assert vectors.orphan_count(lib.db) == 0 and problems(lib.db) == []


def test_a_folder_scoped_search_keeps_to_the_folder_in_both_legs(tmp_path: Path) -> None:
    """Folder 1 holds 300 chunks that match the query's words better; folder 2 holds 12
    that match it less. Scoped to folder 2, each leg still returns folder 2's chunks,
    as many as were asked for (the filter is inside each leg, not applied after it)."""
    from desktop.library.search import Searcher
    from tests.fakes import HashingEmbedder

    embedder = HashingEmbedder(dim=64)
    lib = Library(tmp_path / "lib.sqlite")
    lib.bind_embedder(embedder.model_id, embedder.dim)
    texts = {1: ["pump valve river pump valve"] * 300, 2: ["pump station winter report"] * 12}
    with lib.db:
        for folder, chunk_texts in texts.items():
            lib.db.execute(
                "INSERT INTO folders(id, path, added_at) VALUES (?, ?, 0)", (folder, f"/f{folder}")
            )
            lib.db.execute(
                "INSERT INTO documents(id, folder_id, path, size, mtime, status, indexed_at) "
                "VALUES (?, ?, ?, 0, 0, 'indexed', 0)",
                (folder, folder, f"/f{folder}/a.txt"),
            )
            start = 1 if folder == 1 else 1001
            ids = list(range(start, start + len(chunk_texts)))
            lib.db.executemany(
                "INSERT INTO chunks(id, document_id, ordinal, text, char_start, char_end) "
                "VALUES (?, ?, ?, ?, 0, 1)",
                (
                    (cid, folder, i, t)
                    for i, (cid, t) in enumerate(zip(ids, chunk_texts, strict=True))
                ),
            )
            vectors.insert_many(lib.db, ids, embedder.embed_batch(chunk_texts))
    searcher = Searcher(lib, embedder)
    for mode in ("keyword", "vector", "hybrid"):
        everywhere = searcher.search("pump valve", k=10, mode=mode)  # type: ignore[arg-type]
        assert {h.chunk.path for h in everywhere.hits} == {"/f1/a.txt"}
        scoped = searcher.search("pump valve", k=10, mode=mode, folder_id=2)  # type: ignore[arg-type]
        assert len(scoped.hits) == 10
        assert {h.chunk.path for h in scoped.hits} == {"/f2/a.txt"}
    lib.close()


def test_compaction_waits_for_an_indexer_and_says_so(tmp_path: Path) -> None:
    """It takes the library's index lock: while an indexer holds it, compaction waits (and
    a cancel while waiting changes nothing)."""
    from desktop.cancel import CancelToken
    from desktop.errors import Cancelled
    from desktop.library.lock import IndexLock

    lib = _library(tmp_path / "lib.sqlite", (200,))
    before = file_bytes(lib.path)
    said: list[str] = []
    token = CancelToken()
    with IndexLock(lib.path):
        token.cancel()
        try:
            compact(lib.db, lib.path, token, said.append)
        except Cancelled:
            pass
        else:
            raise AssertionError("compaction did not wait for the indexer")
    assert said and "indexing this library" in said[0]
    assert file_bytes(lib.path) == before and problems(lib.db) == []
    assert compact(lib.db, lib.path).settled  # once the lock is free
    assert IndexLock(lib.path).holder() == f"pid {os.getpid()}"  # it named itself the holder
    lib.close()


def test_a_reader_still_reading_keeps_the_log_and_the_report_says_so(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib.sqlite", (300,))
    lib.db.execute("PRAGMA busy_timeout=50")  # each checkpoint try waits this long
    reader = Library(lib.path)
    reader.db.execute("BEGIN")
    assert reader.db.execute("SELECT count(*) FROM chunks").fetchone() == (300,)
    report = compact(lib.db, lib.path)
    assert not report.settled  # VACUUM went through the log, which the reader still holds
    assert report.summary().endswith(f" MB ({UNSETTLED})")  # the CLI's and the window's line
    reader.db.execute("COMMIT")
    reader.close()
    assert compact(lib.db, lib.path).settled
    assert Path(f"{lib.path}-wal").stat().st_size == 0
    lib.close()


def test_an_interrupted_compaction_says_so_and_keeps_the_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing the window interrupts a compaction (sqlite3_interrupt). SQLite may already
    have rolled the rebuild back; the interrupt is what the caller hears, and the library
    is whole."""
    import apsw

    lib = _library(tmp_path / "lib.sqlite", (300,))
    rebuild = vectors.rebuild_index

    def interrupted(db: apsw.Connection) -> int:
        rebuild(db)
        threading.Timer(0.05, db.interrupt).start()  # from another thread, as the window does
        # A write that takes seconds unless stopped: SQLite rolls an interrupted write's
        # whole transaction back itself.
        db.execute(
            "INSERT INTO meta(key, value) SELECT a.id || '-' || b.id || '-' || c.id, 0 "
            "FROM chunks a, chunks b, chunks c"
        )
        return 0

    monkeypatch.setattr(vectors, "rebuild_index", interrupted)
    with pytest.raises(apsw.InterruptError):
        compact(lib.db, lib.path)
    assert lib.db.get_autocommit() and problems(lib.db) == []
    lib.close()
