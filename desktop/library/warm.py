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
from pathlib import Path

import apsw

from desktop.library.cells import TABLE as CENTROIDS

log = logging.getLogger(__name__)

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


def warm_in_background(path: Path) -> threading.Thread:
    """`warm(path)` on a daemon thread (it never delays the caller or its exit)."""
    thread = threading.Thread(target=warm, args=(Path(path),), name="folio-warm", daemon=True)
    thread.start()
    return thread
