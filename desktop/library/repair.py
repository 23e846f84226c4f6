"""Damaged libraries: say what is wrong, and rebuild the index from the folders.

The library only holds what Folio derived from the user's files, so a damaged library
file is rebuilt, not repaired: the damaged file is moved aside (kept, not deleted), a new
one is made, and the folders are indexed again. The folder list comes from the damaged
file when it can still be read, else from its copy beside the library (`folder_list`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import apsw

from desktop.library import folder_list, health

REBUILD_HINT = "run `folio rebuild` to index its folders again into a new library file"


@dataclass(frozen=True)
class Diagnosis:
    """What is wrong with a library file ([] problems: nothing found) and its folders."""

    path: Path
    problems: list[str]
    folders: list[str]

    @property
    def damaged(self) -> bool:
        return bool(self.problems)

    def message(self) -> str:
        """One paragraph for the user: the damage, and the way out."""
        first = self.problems[0] if self.problems else "no problem found"
        more = f" (and {len(self.problems) - 1} more problems)" if len(self.problems) > 1 else ""
        return f"library {self.path} is damaged: {first}{more}; {REBUILD_HINT}"


def diagnose(path: Path, *, thorough: bool = False) -> Diagnosis:
    """Check a library file without migrating or changing it."""
    folders = folder_list.load(path)
    if not path.exists():
        return Diagnosis(path, [], folders)
    try:
        # Read-write (FTS5 and WAL need it to read), but nothing here writes unless thorough.
        db = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READWRITE)
    except apsw.Error as exc:
        return Diagnosis(path, [f"it cannot be opened ({exc})"], folders)
    try:
        db.set_busy_timeout(5000)
        try:
            import sqlite_vec

            db.enable_load_extension(True)
            db.load_extension(sqlite_vec.loadable_path())
        except (apsw.Error, ImportError, AttributeError):
            pass
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except apsw.NotADBError:
            if not folders:
                # Nothing says this file was ever a Folio library (no folder list beside
                # it): not damage to rebuild, a wrong file; opening it says so.
                return Diagnosis(path, [], folders)
            return Diagnosis(
                path, ["it is not an SQLite database (its header is damaged)"], folders
            )
        except apsw.Error as exc:
            return Diagnosis(path, [f"it cannot be read ({exc})"], folders)
        found = health.problems(db, thorough=thorough)
        try:
            stored = [str(r[0]) for r in db.execute("SELECT path FROM folders")]
        except apsw.Error:
            stored = []
        return Diagnosis(path, found, sorted(set(folders) | set(stored)))
    finally:
        db.close()


def move_aside(path: Path) -> Path:
    """Rename a damaged library (and its -wal and -shm files) out of the way; returns the
    new name of the main file. Nothing is deleted."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm", "-journal"):
        source = Path(str(path) + suffix)
        if source.exists():
            os.replace(source, Path(str(target) + suffix))
    return target


def rebuild(
    path: Path,
    folders: list[str],
    index: Callable[[Path, list[Path]], object],
) -> Path:
    """Move the damaged library aside and index `folders` into a new one at `path`.

    Args:
        index: indexes a list of folders into the library at the given path (the caller
            owns the embedder and the settings).

    Returns:
        Where the damaged file now is.
    """
    aside = move_aside(path)
    folder_list.save(path, folders)
    existing = [Path(f) for f in folders if Path(f).exists()]
    if existing:
        index(path, existing)
    return aside
