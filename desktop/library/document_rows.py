"""A document's rows: its `documents` row, its chunks and their vectors, written and
deleted together inside the caller's transaction (`Library` opens it)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import apsw
import numpy as np

from desktop.ingest.types import ChunkDraft
from desktop.library import vectors as vector_index


@dataclass(frozen=True)
class DocumentRow:
    """What the `documents` row of a freshly parsed file says."""

    folder_id: int
    path: str
    size: int
    mtime: float
    content_hash: str
    pages: int | None
    notes: str | None


def replace(
    db: apsw.Connection,
    row: DocumentRow,
    chunks: Sequence[ChunkDraft],
    known: Mapping[int, np.ndarray],
    keys: Sequence[str | None] | None,
    has_vectors: bool,
) -> int:
    """Write `row` (replacing the document at its path, chunks and vectors included), its
    chunks, and the vectors `known` by chunk index; returns the document id. Chunks
    without a vector wait for one on the pending list (`desktop.library.pending`)."""
    existing = db.execute("SELECT id FROM documents WHERE path = ?", (row.path,)).fetchone()
    now = time.time()
    if existing is not None:
        doc_id = int(existing[0])
        delete_chunks(db, doc_id, has_vectors)
        db.execute(
            "UPDATE documents SET folder_id=?, size=?, mtime=?, content_hash=?, "
            "status='indexed', error=NULL, pages=?, indexed_at=?, notes=? WHERE id=?",
            (row.folder_id, row.size, row.mtime, row.content_hash, row.pages, now, row.notes,
             doc_id),
        )  # fmt: skip
    else:
        db.execute(
            "INSERT INTO documents(folder_id, path, size, mtime, content_hash, status, "
            "pages, indexed_at, notes) VALUES (?, ?, ?, ?, ?, 'indexed', ?, ?, ?)",
            (row.folder_id, row.path, row.size, row.mtime, row.content_hash, row.pages, now,
             row.notes),
        )  # fmt: skip
        doc_id = int(db.last_insert_rowid())
    ids: list[int] = []
    for i, chunk in enumerate(chunks):
        db.execute(
            "INSERT INTO chunks(document_id, ordinal, text, page, char_start, char_end, "
            "heading, embed_key, location) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc_id,
                chunk.ordinal,
                chunk.text,
                chunk.page,
                chunk.char_start,
                chunk.char_end,
                chunk.heading,
                None if keys is None else keys[i],
                chunk.location,
            ),
        )
        ids.append(db.last_insert_rowid())
    with_vectors = [i for i in range(len(chunks)) if i in known]
    if with_vectors:
        vector_index.insert_many(
            db,
            [ids[i] for i in with_vectors],
            np.stack([np.asarray(known[i], dtype=np.float32) for i in with_vectors]),
        )
    db.execute("DELETE FROM skipped WHERE path = ?", (row.path,))
    return doc_id


def delete_chunks(db: apsw.Connection, doc_id: int, has_vectors: bool) -> None:
    """Delete a document's chunks, with their vectors (the vector tables are keyed by chunk
    id without a foreign key, so they are deleted explicitly)."""
    if has_vectors:
        vector_index.delete_document(db, doc_id)
    db.execute("DELETE FROM chunks WHERE document_id = ?", (doc_id,))
