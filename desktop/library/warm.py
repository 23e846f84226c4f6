"""The pages every search reads, brought into the OS page cache while the searcher is made.

A search reads a few structures whatever the query: the vector index's centroids and the
FTS5 row sizes that bm25() needs for each match. From a cold page cache (the first search
after a reboot, or after other work pushed the library out) they cost most of the first
search; read in order, in the background while the embedding model loads (0.3-0.6 s),
they are cheap. 1M-chunk padded library, each read alone with the file evicted
(posix_fadvise DONTNEED): centroids 6.3 MB in 167 ms, row sizes in 226 ms (December 7,
load ~1). The rest (postings, the probed cells' codes, the floats rescored) depends on
the query and stays where it is.

Measured through `desktop.bench.child search` (a fresh process, as `folio search`), the
1M library evicted before each of 5 SciFact queries, with and without this back to back
(load 1.0): the first search took 405 ms against 629 ms, the model load beside it 493
against 468 ms, so the first result came 0.90 s after start against 1.10 s
(folder-scoped: 260 against 636 ms). With the library already in the page cache both
searches took 45-48 ms.

Read-only, on a connection of its own, and best effort: a library that cannot be read
here is reported by the search itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import apsw

from desktop.library.cells import TABLE as CENTROIDS
from desktop.library.db import library_files

log = logging.getLogger(__name__)

# Bytes per read of `read_ahead`, and how often a paused one looks again.
READ_AHEAD_PIECE = 4 << 20
PAUSE_POLL_S = 0.02

# What is read, in rowid order, as SQL that touches every page: a blob past a page's
# room (a centroid of 1,024 dimensions or more) lies in overflow pages that length()
# skips, so the centroids are fetched whole; the row sizes are small enough for length()
# (a million rows fetched one by one into Python would cost more than they save).
ALWAYS_READ = (
    (CENTROIDS, f"SELECT centroid FROM {CENTROIDS}"),
    ("chunks_fts_docsize", "SELECT total(length(sz)) FROM chunks_fts_docsize"),
)


def warm(path: Path) -> int:
    """Read the structures every search reads; returns the bytes read (0 when the library
    cannot be opened)."""
    try:
        db = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    except apsw.Error as exc:
        log.debug("not warming %s: %s", path, exc)
        return 0
    total = 0
    try:
        for table, sql in ALWAYS_READ:
            found = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            if found is None:
                continue
            for (value,) in db.execute(sql):
                if isinstance(value, bytes):
                    total += len(value)
                elif value:
                    total += int(value)
    except apsw.Error as exc:
        log.debug("warming %s stopped: %s", path, exc)
    finally:
        db.close()
    return total


def read_ahead(path: Path, limit: int, paused: Callable[[], bool] = lambda: False) -> int:
    """Read the whole library (the file, its write-ahead log) in large sequential pieces,
    so the OS keeps it in its page cache, when together they hold at most `limit` bytes;
    returns the bytes read (0 when over the limit or unreadable). For a process that keeps
    the library open (the window): its first search then reads memory, not the disk.
    While `paused()` holds (a question is being answered) it waits, so as not to compete
    with that search's reads. (`posix_fadvise(WILLNEED)` read only 8 MB of a 367 MB
    library here.)"""
    parts = library_files(path)[:2]  # the database and its log (the log's index is tiny)
    try:
        sizes = [p.stat().st_size if p.exists() else 0 for p in parts]
    except OSError:
        return 0
    if sum(sizes) > limit:
        return 0
    piece = memoryview(bytearray(READ_AHEAD_PIECE))
    total = 0
    for part, size in zip(parts, sizes, strict=True):
        if not size:
            continue
        try:
            with open(part, "rb", buffering=0) as f:
                while n := f.readinto(piece):
                    total += n
                    while paused():
                        time.sleep(PAUSE_POLL_S)
        except OSError as exc:
            log.debug("read-ahead of %s stopped: %s", part, exc)
    return total


def read_ahead_limit() -> int:
    """How much of a library the window reads ahead: an eighth of the machine's memory, at
    most 1 GiB (a 100k-chunk library is about 370 MB, a million chunks 3.6 GB)."""
    import psutil

    return min(1 << 30, psutil.virtual_memory().total // 8)


def warm_in_background(path: Path) -> threading.Thread:
    """`warm(path)` on a daemon thread (it never delays the caller or its exit)."""
    return _daemon("folio-warm", lambda: warm(Path(path)))


def read_ahead_in_background(
    path: Path, paused: Callable[[], bool] = lambda: False
) -> threading.Thread:
    """`read_ahead(path, read_ahead_limit(), paused)` on a daemon thread."""
    return _daemon("folio-read-ahead", lambda: read_ahead(Path(path), read_ahead_limit(), paused))


def _daemon(name: str, work: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    return thread
