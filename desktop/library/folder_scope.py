"""A small folder's chunks, for searching inside one folder.

Both legs filter a folder inside their own search (so a folder search still returns k
results). For a folder of at most SMALL_FOLDER chunks the ids are read once from the
covering indexes (documents by folder, chunks by document), a few pages, and kept per
connection until the library changes: the vector leg scans such a folder whole, and the
keyword leg keeps the folder's rows of the library-wide BM25 ranking instead of looking
up every match's document. That lookup touched one page of the chunks table per match:
on the 1M-chunk padded library, a 10k-chunk folder, three SciFact queries, the keyword
leg took 669-756 ms from a cold page cache and 17.7-23.8 ms warm by the JOIN against
265-285 ms and 16.2-17.5 ms this way (reading the 10k ids: 77-82 ms cold, 4.4-5.6 ms
warm), same rows in the same order (December 7, load ~1).
"""

from __future__ import annotations

import apsw

from desktop.library.conn_cache import UntilChanged

# A folder with at most this many chunks is searched through its ids (see above; the
# vector leg: desktop/library/vector_search.py says why it scans such a folder whole).
SMALL_FOLDER = 20_000
# Folders whose ids a connection keeps (the most recently read), at most ~1.5 MB each.
KEPT_FOLDERS = 4

# Per connection until the library changes (desktop/library/conn_cache.py): keyed by
# (folder, SMALL_FOLDER), None for a folder with more chunks than that.
_ids: UntilChanged[tuple[int, int], frozenset[int] | None] = UntilChanged(keep=KEPT_FOLDERS)


def small_folder_chunks(db: apsw.Connection, folder_id: int) -> frozenset[int] | None:
    """The ids of the folder's chunks when it has at most SMALL_FOLDER of them (None when
    it has more), remembered per connection until the library changes."""
    key = (int(folder_id), SMALL_FOLDER)
    store, known = _ids.lookup(db, [key])
    if key in known:
        return known[key]
    ids = [
        int(row[0])
        for row in db.execute(
            "SELECT c.id FROM documents d JOIN chunks c ON c.document_id = d.id "
            "WHERE d.folder_id = ? LIMIT ?",
            (int(folder_id), SMALL_FOLDER + 1),
        )
    ]
    found = frozenset(ids) if len(ids) <= SMALL_FOLDER else None
    _ids.store(store, {key: found})
    return found
