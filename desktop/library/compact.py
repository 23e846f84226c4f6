"""Compaction: give back the space that deletions left in a library file.

Deleting rows frees pages inside the file but never shrinks it, and sqlite-vec 0.1.9 only
marks a deleted vector's slot as invalid (every later search still scans the slot). So
compaction rebuilds the int8 index (and its cells) from the stored floats, merges the
keyword index's segments, then rewrites the file (`VACUUM`) and truncates the write-ahead
log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import apsw

from desktop.cancel import CancelToken
from desktop.durations import format_duration
from desktop.library import vectors
from desktop.library.lock import IndexLock

# What to say when the write-ahead log could not be emptied yet.
UNSETTLED = "the write-ahead log shrinks once searches still reading end"


@dataclass(frozen=True)
class CompactReport:
    """File sizes (the database plus its write-ahead log) before and after, in bytes;
    `settled`: the write-ahead log was emptied (VACUUM writes the whole file through it,
    and a search still reading on another connection keeps it until it ends)."""

    bytes_before: int
    bytes_after: int
    seconds: float
    settled: bool = True

    def summary(self) -> str:
        """'7 s: 368.3 MB → 367.1 MB', as the CLI and the window report it."""
        mb = 2**20
        return (
            f"{format_duration(self.seconds)}: {self.bytes_before / mb:,.1f} MB → "
            f"{self.bytes_after / mb:,.1f} MB" + ("" if self.settled else f" ({UNSETTLED})")
        )


def file_bytes(path: Path) -> int:
    """The library's size on disk: the file and its write-ahead log."""
    wal = Path(f"{path}-wal")
    return Path(path).stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def compact(
    db: apsw.Connection,
    path: Path,
    cancel: CancelToken | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> CompactReport:
    """Rebuild the vector index and the keyword index's segments, then VACUUM.

    Holds the library's index lock (desktop/library/lock.py), so an indexer in another
    process waits for it and it waits for one (`on_wait` says so). Each step is its own
    transaction (the rebuild takes the write lock at once; VACUUM is one too), so a crash
    or an interrupt at any point leaves a whole library: the old index or the new one.
    """
    started = time.perf_counter()
    with IndexLock(Path(path)).held(cancel or CancelToken(), on_wait):
        before = file_bytes(path)
        db.execute("BEGIN IMMEDIATE")
        try:
            if vectors.exists(db):
                vectors.rebuild_index(db)
            db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
        except BaseException:
            if not db.get_autocommit():  # an interrupt may have rolled it back already
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        db.execute("VACUUM")
        settled = _truncate_wal(db)
        return CompactReport(before, file_bytes(path), time.perf_counter() - started, settled)


def _truncate_wal(db: apsw.Connection, tries: int = 2) -> bool:
    """Checkpoint and empty the write-ahead log; False while another connection's read
    keeps it (each try waits up to the busy timeout)."""
    for _ in range(tries):
        row = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if row is None or not row[0]:
            return True
    return False
