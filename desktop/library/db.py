"""Opening the library database: apsw with sqlite-vec loaded, WAL, foreign keys, migrations.

Python's own `sqlite3` often cannot load extensions, so Folio always goes through apsw.
"""

from __future__ import annotations

import logging
from pathlib import Path

import apsw
import sqlite_vec

from desktop.errors import LibraryError
from desktop.library.migrations import MIGRATIONS

log = logging.getLogger(__name__)


def connect(path: Path) -> apsw.Connection:
    """Open (creating if needed) the library at `path`, migrated to the current schema.

    Raises:
        LibraryError: the file is not a Folio library, is newer than this Folio, or is damaged.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = apsw.Connection(str(path))
    except (OSError, apsw.Error) as exc:
        raise LibraryError(f"cannot open library {path}: {exc}") from exc
    try:
        db.enable_load_extension(True)
        db.load_extension(sqlite_vec.loadable_path())
        db.enable_load_extension(False)
        db.set_busy_timeout(5000)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        migrate(db, path)
    except apsw.NotADBError as exc:
        db.close()
        raise LibraryError(f"{path} is not a Folio library (not an SQLite database)") from exc
    except apsw.CorruptError as exc:
        db.close()
        raise LibraryError(f"library {path} is damaged: {exc}") from exc
    except BaseException:
        db.close()
        raise
    return db


def schema_version(db: apsw.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])  # type: ignore[index]


def migrate(db: apsw.Connection, path: Path) -> None:
    """Apply every numbered migration newer than the file's `user_version`, one transaction each."""
    current = schema_version(db)
    if current > len(MIGRATIONS):
        raise LibraryError(
            f"library {path} was written by a newer Folio (schema {current}); "
            f"this Folio understands up to schema {len(MIGRATIONS)}"
        )
    for number, migration in enumerate(MIGRATIONS[current:], start=current + 1):
        log.info("library %s: applying migration %d (%s)", path, number, migration.__name__)
        with db:
            migration(db)
            db.execute(f"PRAGMA user_version={number}")
