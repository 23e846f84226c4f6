"""Deleting a folder's chunks together with their keyword index rows, at the cheaper of two
costs.

The keyword index (`chunks_fts`, FTS5 over the `chunks` table) is kept in step by a
trigger that tells FTS5 each deleted chunk's text, which FTS5 tokenizes again: 8.3 s for a
folder of 100k padded chunks (load 9). When the folder holds more chunks than the rest of
the library, rebuilding the keyword index from what remains is cheaper, so the trigger is
dropped for the one statement and recreated, all inside the caller's transaction (a
crash rolls back all of it).
"""

from __future__ import annotations

import apsw

# The trigger as migration 1 created it (recreated verbatim).
_TRIGGER = """
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts(chunks_fts, rowid, text, heading)
    VALUES ('delete', old.id, old.text, old.heading);
END;
"""


def delete_folder_chunks(db: apsw.Connection, folder_id: int) -> int:
    """Delete every chunk of the folder's documents and their keyword rows; returns how
    many chunks went. Run inside a transaction."""
    in_folder = "SELECT id FROM documents WHERE folder_id = ?"
    removed = _one(db, f"SELECT count(*) FROM chunks WHERE document_id IN ({in_folder})", folder_id)
    total = _one(db, "SELECT count(*) FROM chunks")
    trigger = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'chunks_ad'"
    ).fetchone()
    if removed <= total - removed or trigger is None:
        db.execute(f"DELETE FROM chunks WHERE document_id IN ({in_folder})", (folder_id,))
        return removed
    db.execute("DROP TRIGGER chunks_ad")
    db.execute(f"DELETE FROM chunks WHERE document_id IN ({in_folder})", (folder_id,))
    db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
    db.execute(str(trigger[0]) if trigger[0] else _TRIGGER)
    return removed


def _one(db: apsw.Connection, sql: str, *args: int) -> int:
    row = db.execute(sql, args).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
