"""Consistency checks of a library: SQLite's own, and the invariants indexing must keep.

Used by `folio status` (to report damage and offer a rebuild) and by the kill test: after
any crash, a library must pass every check here.
"""

from __future__ import annotations

import apsw

from desktop.library import pending, vectors


def problems(db: apsw.Connection, *, thorough: bool = False) -> list[str]:
    """Every problem found, as sentences; [] for a healthy library. Read-only unless
    `thorough`, so it never waits for an indexer writing at the same time.

    Args:
        thorough: run `PRAGMA integrity_check` (reads every page and index) instead of the
            faster `quick_check`, and FTS5's own check of the keyword index against the
            chunks (which takes the write lock).
    """
    found = sqlite_problems(db, thorough=thorough)
    if found:
        return found  # the invariants cannot be trusted on a damaged file
    if _schema_version(db) == 0:
        return []  # a new library, never migrated (or a crash before its first migration)
    found = invariant_problems(db)
    if thorough and not found:
        try:
            db.execute("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")
        except apsw.Error as exc:
            found.append(f"the keyword index does not match the chunks ({exc})")
    return found


def sqlite_problems(db: apsw.Connection, *, thorough: bool = False) -> list[str]:
    """What SQLite's integrity check reports (it raises on some damage: reported too)."""
    pragma = "integrity_check" if thorough else "quick_check"
    try:
        rows = [str(r[0]) for r in db.execute(f"PRAGMA {pragma}")]
    except apsw.Error as exc:
        return [f"SQLite cannot check the file: {exc}"]
    return [] if rows == ["ok"] else [f"SQLite integrity check: {r}" for r in rows[:10]]


def invariant_problems(db: apsw.Connection) -> list[str]:
    """The indexing invariants: every chunk has its document, its FTS row, and its vector or
    a place on the list of chunks waiting for one (never both); no vector without a chunk;
    no document marked indexed without chunks."""
    out: list[str] = []

    def count(sql: str) -> int:
        row = db.execute(sql).fetchone()
        return int(row[0]) if row else 0

    try:
        chunks = count("SELECT count(*) FROM chunks")
        orphans = count(
            "SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)"
        )
        if orphans:
            out.append(f"{orphans} chunks belong to no document")
        empty = count(
            "SELECT count(*) FROM documents d WHERE d.status = 'indexed' AND NOT EXISTS "
            "(SELECT 1 FROM chunks c WHERE c.document_id = d.id)"
        )
        if empty:
            out.append(f"{empty} documents are marked indexed but have no chunks")
        duplicates = count(
            "SELECT count(*) FROM (SELECT 1 FROM chunks GROUP BY document_id, ordinal "
            "HAVING count(*) > 1)"
        )
        if duplicates:
            out.append(f"{duplicates} chunks are stored twice")
        indexed = count("SELECT count(*) FROM chunks_fts_docsize")
        if indexed != chunks:
            out.append(f"{indexed} keyword index rows for {chunks} chunks")
        out.extend(pending.problems(db))
        if vectors.exists(db):
            stored = vectors.count(db)
            waiting = pending.count(db)
            if stored + waiting != chunks:
                out.append(f"{stored} vectors and {waiting} waiting for one, for {chunks} chunks")
            indexed_vectors = vectors.count_indexed(db)
            if indexed_vectors != stored:
                out.append(f"{indexed_vectors} vector index rows for {stored} vectors")
            strays = vectors.orphan_count(db)
            if strays:
                out.append(f"{strays} vectors belong to no chunk")
        elif chunks and pending.count(db) != chunks:
            out.append(f"{chunks} chunks but no vector index")
    except apsw.Error as exc:
        out.append(f"the library cannot be read: {exc}")
    return out


def _schema_version(db: apsw.Connection) -> int:
    row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0
