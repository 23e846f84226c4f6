"""The library under failure: old and new schemas, a full disk, a busy database, two
processes opening a new library at once. Real SQLite with sqlite-vec and FTS5; the fake
embedder keeps it fast."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest
import sqlite_vec

from desktop import boundary
from desktop.config import Config
from desktop.errors import LibraryError
from desktop.library import migrations, vectors
from desktop.library.conversations import Conversations
from desktop.library.store import Library
from desktop.paths import Locations
from desktop.session import Session
from tests.fakes import HASHING_ID, fake_registry

pytestmark = pytest.mark.fast

REPO = Path(__file__).resolve().parent.parent


def consistent(db: apsw.Connection) -> None:
    """What a crash or a failed write must never break."""
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    assert vectors.count(db) == chunks
    assert db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0] == chunks
    empty = db.execute(
        "SELECT count(*) FROM documents d WHERE status = 'indexed' AND NOT EXISTS "
        "(SELECT 1 FROM chunks c WHERE c.document_id = d.id)"
    ).fetchone()[0]
    assert empty == 0


def write_docs(folder: Path, n: int, start: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        (folder / f"note-{i:03d}.txt").write_text(
            f"Note {i}. The pump station number {i} was serviced on a rainy Tuesday.\n",
            encoding="utf-8",
        )
    return folder


def test_a_library_made_by_the_v1_code_is_upgraded_with_its_data(
    fake_session: Session, tmp_path: Path
) -> None:
    path = fake_session.library_path
    db = apsw.Connection(str(path))
    db.enable_load_extension(True)
    db.load_extension(sqlite_vec.loadable_path())
    with db:  # exactly what the code at schema 1 wrote: its migration, then its rows
        migrations.m001_create_tables(db)
        db.execute("PRAGMA user_version=1")
        db.execute(
            "INSERT INTO meta VALUES ('embedding_model', ?), ('embedding_dim', '64')", (HASHING_ID,)
        )
        db.execute(
            "CREATE VIRTUAL TABLE chunk_vectors USING vec0(embedding float[64] "
            "distance_metric=cosine)"
        )
        db.execute("INSERT INTO folders(id, path, added_at) VALUES (1, '/old', 0)")
        db.execute(
            "INSERT INTO documents VALUES (1, 1, '/old/a.txt', 5, 0, 'h', 'indexed', NULL, NULL, 0)"
        )
        db.execute("INSERT INTO chunks VALUES (1, 1, 0, 'turbine output notes', NULL, 0, 20, NULL)")
        vector = fake_session.embedder.embed_batch(["turbine output notes"])[0]
        db.execute("INSERT INTO chunk_vectors(rowid, embedding) VALUES (1, ?)", (vector.tobytes(),))
    db.close()

    lib = fake_session.library
    assert lib.db.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS)
    assert lib.counts() == {"folders": 1, "documents": 1, "failed": 0, "chunks": 1}
    hit = fake_session.searcher.search("turbine output", k=1).hits[0]
    assert hit.chunk.path == "/old/a.txt"
    chats = Conversations(lib.db)  # the table schema 2 added
    assert chats.create() > 0
    consistent(lib.db)


def test_a_library_from_a_newer_folio_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite"
    Library(path).close()
    db = apsw.Connection(str(path))
    db.execute(f"PRAGMA user_version={len(migrations.MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(LibraryError, match=r"written by a newer Folio .*update Folio"):
        Library(path)


class _FullDiskFile(apsw.VFSFile):
    def __init__(self, vfs: FullDisk, name: object, flags: list[int]) -> None:
        self.vfs = vfs
        super().__init__("unix", name, flags)  # type: ignore[arg-type]

    def xWrite(self, data: bytes, offset: int) -> None:  # noqa: N802 - apsw's name
        if self.vfs.full:
            raise apsw.FullError("database or disk is full")
        super().xWrite(data, offset)


class FullDisk(apsw.VFS):
    """The default VFS while installed: writes fail with SQLITE_FULL once `full` is set."""

    def __init__(self) -> None:
        self.full = False
        super().__init__("folio-full-disk", "unix", makedefault=True)

    def xOpen(self, name: object, flags: list[int]) -> _FullDiskFile:  # noqa: N802
        return _FullDiskFile(self, name, flags)


@pytest.fixture
def full_disk() -> Iterator[FullDisk]:
    vfs = FullDisk()
    yield vfs
    vfs.unregister()


def test_a_full_disk_while_indexing_is_a_clear_message_and_loses_nothing(
    full_disk: FullDisk, fake_session: Session, tmp_path: Path
) -> None:
    docs = write_docs(tmp_path / "docs", 5)
    assert fake_session.indexer.index([docs]).added == 5
    write_docs(docs, 5, start=5)

    full_disk.full = True
    with pytest.raises(apsw.FullError) as raised:
        fake_session.indexer.index([docs])
    outcome = boundary.classify(raised.value, fake_session.library_path)
    assert outcome.kind == "user" and outcome.exit_code == 1
    assert "is full" in outcome.message and str(fake_session.library_path) in outcome.message

    full_disk.full = False
    fake_session.release_thread()
    with Library(fake_session.library_path) as lib:
        consistent(lib.db)
        assert lib.counts()["documents"] >= 5  # everything stored before is still there
    assert fake_session.indexer.index([docs]).added + 5 >= 10  # and the next run completes
    assert fake_session.library.counts()["documents"] == 10


def test_a_busy_library_is_a_clear_message(locations: Locations, tmp_path: Path) -> None:
    from tests.test_session import fake_settings

    config = Config.resolve(
        fake_settings(), locations, tmp_path / "lib.sqlite", busy_timeout_ms=100
    )
    with Session(config, fake_registry()) as session:
        docs = write_docs(tmp_path / "docs", 2)
        session.indexer.index([docs])
        other = apsw.Connection(str(config.library_path))
        other.execute("BEGIN EXCLUSIVE")
        write_docs(docs, 1, start=2)
        started = time.monotonic()
        try:
            with pytest.raises(apsw.BusyError) as raised:
                session.indexer.index([docs])
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert time.monotonic() - started < 5  # the timeout, not a hang
        outcome = boundary.classify(raised.value, config.library_path)
        assert outcome.kind == "user" and "is busy" in outcome.message
        assert session.indexer.index([docs]).added == 1  # fine once the other lets go


_OPEN = "import sys; from desktop.library.store import Library; Library(sys.argv[1]).close()"


@pytest.mark.slow  # 24 Python processes
def test_processes_racing_to_open_a_new_library_never_fail(tmp_path: Path) -> None:
    """Migration and the switch to WAL were not safe when two processes created a library
    together ("table meta already exists", "database is locked")."""
    failures = []
    for round_ in range(8):
        path = tmp_path / f"race-{round_}.sqlite"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN, str(path)],
                cwd=REPO,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        for p in procs:
            _, err = p.communicate(timeout=60)
            if p.returncode != 0:
                failures.append(err.strip().splitlines()[-1])
        with Library(path) as lib:
            assert lib.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert lib.db.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS)
    assert failures == []


@pytest.mark.parametrize("damage", ["header", "truncated"])
def test_a_damaged_library_file_is_one_clear_line(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "lib.sqlite"
    with Library(path) as lib:
        lib.add_folder(tmp_path)
    raw = bytearray(path.read_bytes())
    if damage == "header":
        raw[:16] = b"garbage garbage!"
    else:
        raw = raw[: len(raw) // 3 + 1]
    path.write_bytes(bytes(raw))
    with pytest.raises(LibraryError) as raised:
        with Library(path) as lib:
            lib.status()
    assert str(path) in str(raised.value)
