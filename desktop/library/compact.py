"""Compaction: give back the space that deletions left in a library file.

Deleting rows frees pages inside the file but never shrinks it, and sqlite-vec 0.1.9 only
marks a deleted vector's slot as invalid (every later search still scans the slot). So
compaction rebuilds the int8 index (and its cells) from the stored floats, merges the
keyword index's segments, then rewrites the file (`VACUUM`) and truncates the write-ahead
log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import apsw

from desktop.library import vectors


@dataclass(frozen=True)
class CompactReport:
    """File sizes (the database plus its write-ahead log) before and after, in bytes."""

    bytes_before: int
    bytes_after: int
    seconds: float


def file_bytes(path: Path) -> int:
    """The library's size on disk: the file and its write-ahead log."""
    wal = Path(f"{path}-wal")
    return Path(path).stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def compact(db: apsw.Connection, path: Path) -> CompactReport:
    """Rebuild the vector index and the keyword index's segments, then VACUUM.

    Each step is its own transaction (VACUUM is one too), so a crash at any point leaves a
    whole library: the old index or the new one.
    """
    started = time.perf_counter()
    before = file_bytes(path)
    with db:
        if vectors.exists(db):
            vectors.rebuild_index(db)
        db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
    db.execute("VACUUM")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return CompactReport(before, file_bytes(path), time.perf_counter() - started)
