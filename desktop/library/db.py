"""Opening the library database: apsw with sqlite-vec loaded, WAL, foreign keys, migrations.

Python's own `sqlite3` often cannot load extensions, so Folio always goes through apsw.
Opening is safe when several processes open (and migrate) a new library at once: the
journal mode is switched with retries, and each migration runs in its own `BEGIN
IMMEDIATE` transaction that re-reads the schema version once it holds the write lock.

`library_error` turns SQLite's failures into messages a person can act on; the error
boundary (`desktop.boundary`) applies it to whatever escapes the core.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import apsw
import sqlite_vec

from desktop.errors import LibraryError
from desktop.library.migrations import MIGRATIONS

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_MS = 5000
# How a damaged library is mended, in the one wording both clients show.
REBUILD = (
    "rebuild it from its folders (`folio rebuild`, or Rebuild in the window); the damaged "
    "file is kept aside."
)


def library_error(exc: apsw.Error, path: Path) -> LibraryError | None:
    """The user's view of an SQLite failure on the library at `path`, by its error code.

    Returns None for failures that are Folio's own bugs (bad SQL, constraint violations).
    """
    if isinstance(exc, apsw.FullError):
        return LibraryError(
            f"the disk holding the library {path} is full, so Folio could not save its "
            "work. Free some space and try again; everything stored before is safe."
        )
    if isinstance(exc, (apsw.BusyError, apsw.LockedError)):
        return LibraryError(
            f"the library {path} is busy: another Folio window or command is writing to it. "
            "Wait for it to finish, then try again."
        )
    if isinstance(exc, (apsw.ReadOnlyError, apsw.PermissionsError, apsw.AuthError)):
        return LibraryError(
            f"the library {path} cannot be written: the file or its folder is read-only, or "
            "you lack permission. Check its permissions, or choose another library with "
            "--library."
        )
    if isinstance(exc, apsw.CantOpenError):
        return LibraryError(
            f"the library {path} cannot be opened: its folder is missing or not writable."
        )
    if isinstance(exc, apsw.NotADBError):
        return LibraryError(
            f"{path} is not a Folio library: it is not an SQLite database, or its header is "
            f"damaged. If it was your library, your documents themselves are untouched: {REBUILD}"
        )
    if isinstance(exc, apsw.CorruptError):
        return LibraryError(
            f"the library {path} is damaged ({exc}). Your documents themselves are "
            f"untouched: {REBUILD}"
        )
    if isinstance(exc, apsw.IOError):
        return LibraryError(
            f"the disk failed while Folio used the library {path} ({exc}). Check the disk "
            "or the network share it is on, then try again."
        )
    if isinstance(exc, apsw.NoMemError):
        return LibraryError(f"out of memory while using the library {path}")
    return None


def library_files(path: Path) -> list[Path]:
    """The files a library in WAL mode is made of: the database, its write-ahead log and
    the log's index (the last two exist while it is open, and after a crash)."""
    path = Path(path)
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def connect(path: Path, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> apsw.Connection:
    """Open (creating if needed) the library at `path`, migrated to the current schema.

    Args:
        path: the library file.
        busy_timeout_ms: how long to wait for another connection's write lock.

    Raises:
        LibraryError: the file is not a Folio library, is newer than this Folio, is damaged,
            is busy for longer than the timeout, or cannot be created.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = apsw.Connection(str(path))
    except OSError as exc:
        raise LibraryError(f"cannot create the library {path}: {exc.strerror or exc}") from exc
    except apsw.Error as exc:
        raise library_error(exc, path) or LibraryError(
            f"cannot open library {path}: {exc}"
        ) from exc
    try:
        db.set_busy_timeout(busy_timeout_ms)
        _load_vector_extension(db, path)
        _use_wal(db, busy_timeout_ms)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        migrate(db, path)
    except apsw.Error as exc:
        db.close()
        user = library_error(exc, path)
        if user is None:
            raise
        raise user from exc
    except BaseException:
        db.close()
        raise
    return db


def _load_vector_extension(db: apsw.Connection, path: Path) -> None:
    try:
        db.enable_load_extension(True)
        db.load_extension(sqlite_vec.loadable_path())
        db.enable_load_extension(False)
    except apsw.ExtensionLoadingError as exc:
        raise LibraryError(
            f"cannot open library {path}: the sqlite-vec extension did not load ({exc}); "
            "reinstall Folio"
        ) from exc


def _use_wal(db: apsw.Connection, timeout_ms: int) -> None:
    """Switch to WAL, retrying while another process holds the lock the switch needs.

    SQLite does not call the busy handler for a journal-mode change, and it may answer
    with the old mode instead of an error; the mode sticks to the file, so another
    process may well have switched it meanwhile.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    delay = 0.005
    while True:
        try:
            mode = str(db.execute("PRAGMA journal_mode=WAL").fetchall()[0][0]).lower()
        except (apsw.BusyError, apsw.LockedError):
            mode = ""
        if mode == "wal":
            return
        if time.monotonic() > deadline:
            raise apsw.BusyError("could not switch the library to WAL mode: it stays locked")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def schema_version(db: apsw.Connection) -> int:
    row = db.execute("PRAGMA user_version").fetchone()
    value = row[0] if row else 0
    return value if isinstance(value, int) else int(str(value))


def migrate(db: apsw.Connection, path: Path) -> None:
    """Apply every numbered migration newer than the file's `user_version`, one transaction
    each, taking the write lock before reading the version (another process may be
    migrating the same file).

    Raises:
        LibraryError: the file was written by a newer Folio.
    """
    while True:
        if schema_version(db) >= len(MIGRATIONS):
            break
        db.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(db)
            if current >= len(MIGRATIONS):
                db.execute("COMMIT")
                break
            number = current + 1
            migration = MIGRATIONS[current]
            log.info("library %s: applying migration %d (%s)", path, number, migration.__name__)
            migration(db)
            db.execute(f"PRAGMA user_version={number}")
            db.execute("COMMIT")
        except BaseException:
            if not db.get_autocommit():
                db.execute("ROLLBACK")
            raise
    current = schema_version(db)
    if current > len(MIGRATIONS):
        raise LibraryError(
            f"library {path} was written by a newer Folio (schema {current}); "
            f"this Folio understands up to schema {len(MIGRATIONS)}: update Folio"
        )
