"""What `folio status` and the window show per folder: counts, failures, skips and notes."""

from __future__ import annotations

from dataclasses import dataclass, field

import apsw


@dataclass(frozen=True)
class FolderStatus:
    """One indexed folder: what it holds and every file that needs the user's attention.

    `failed`: files that could not be read, with the reason. `skipped`: files and folders
    the scan left out (ignore rules, size, type, unreadable...), with the reason. `noted`:
    indexed documents with something to know (pages without text, OCR used).
    """

    id: int
    path: str
    documents: int
    chunks: int
    failed: list[tuple[str, str]]
    indexed_at: float | None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    noted: list[tuple[str, str]] = field(default_factory=list)


def folder_statuses(db: apsw.Connection) -> list[FolderStatus]:
    """Every folder's status, in path order."""
    counts = {
        int(f): (int(d), int(c))
        for f, d, c in db.execute(
            "SELECT d.folder_id, count(DISTINCT d.id), count(c.id) FROM documents d "
            "LEFT JOIN chunks c ON c.document_id = d.id WHERE d.status = 'indexed' "
            "GROUP BY d.folder_id"
        )
    }
    out = []
    for folder_id, path, indexed_at in db.execute(
        "SELECT id, path, indexed_at FROM folders ORDER BY path"
    ).fetchall():
        assert isinstance(folder_id, int)
        fid = folder_id
        docs, chunks = counts.get(fid, (0, 0))
        out.append(
            FolderStatus(
                fid,
                str(path),
                docs,
                chunks,
                _pairs(
                    db,
                    "SELECT path, error FROM documents WHERE folder_id = ? AND "
                    "status = 'failed' ORDER BY path",
                    fid,
                ),
                indexed_at if isinstance(indexed_at, float) else None,
                _pairs(
                    db, "SELECT path, reason FROM skipped WHERE folder_id = ? ORDER BY path", fid
                ),
                _pairs(
                    db,
                    "SELECT path, notes FROM documents WHERE folder_id = ? AND "
                    "status = 'indexed' AND notes IS NOT NULL ORDER BY path",
                    fid,
                ),
            )
        )
    return out


def _pairs(db: apsw.Connection, sql: str, folder_id: int) -> list[tuple[str, str]]:
    return [(str(a), str(b)) for a, b in db.execute(sql, (folder_id,))]
