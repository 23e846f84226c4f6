"""The library: one SQLite file holding folders, documents, chunks, FTS5 and vectors.

All writes of one document happen in one transaction, so a crash never leaves half a
document: either the old version or the new one is stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import apsw
import numpy as np

from desktop.errors import LibraryError
from desktop.ingest.types import ChunkDraft
from desktop.library import vectors as vector_index
from desktop.library.db import DEFAULT_BUSY_TIMEOUT_MS, connect


@dataclass(frozen=True)
class DocumentRecord:
    id: int
    folder_id: int
    path: str
    size: int
    mtime: float
    content_hash: str | None
    status: str
    error: str | None


@dataclass(frozen=True)
class FolderStatus:
    id: int
    path: str
    documents: int
    chunks: int
    failed: list[tuple[str, str]]
    indexed_at: float | None


@dataclass(frozen=True)
class ChunkRecord:
    """A stored chunk with the document it came from."""

    chunk_id: int
    document_id: int
    path: str
    page: int | None
    heading: str | None
    text: str
    char_start: int
    char_end: int


class Library:
    """A Folio library file. Not thread-safe: use one `Library` per thread.

    Args:
        path: the library file (created and migrated if needed).
        busy_timeout_ms: how long to wait for another connection's write lock.
    """

    def __init__(self, path: Path, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        self.path = Path(path)
        self.db: apsw.Connection = connect(self.path, busy_timeout_ms)

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- embedder binding ------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def embedder(self) -> tuple[str, int] | None:
        model, dim = self.meta("embedding_model"), self.meta("embedding_dim")
        return None if model is None or dim is None else (model, int(dim))

    def bind_embedder(self, model_id: str, dim: int) -> None:
        """Record the embedding model on first use; refuse a different one afterwards.

        Raises:
            LibraryError: the library was built with another embedding model or dimension.
        """
        if self.embedder() is None:
            # INSERT OR IGNORE inside one transaction: when two threads bind a new library at
            # once, the first wins and the second is checked against it below.
            with self.db:
                self.db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES ('embedding_model', ?), "
                    "('embedding_dim', ?)",
                    (model_id, str(dim)),
                )
                bound_dim = int(self.meta("embedding_dim") or dim)
                vector_index.create(self.db, bound_dim)
        bound = self.embedder()
        assert bound is not None
        if bound != (model_id, dim):
            raise LibraryError(
                f"library {self.path} was indexed with embedding model {bound[0]} "
                f"({bound[1]} dimensions), but Folio is set to use {model_id} ({dim}). "
                "Switch the embedding model back, or use a new library file."
            )

    def _require_vectors(self) -> None:
        if self.embedder() is None:
            raise LibraryError(f"library {self.path} has no embedding model yet: index something")

    # -- folders ---------------------------------------------------------------------------
    def add_folder(self, path: Path) -> int:
        resolved = str(Path(path).expanduser().resolve())
        with self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO folders(path, added_at) VALUES (?, ?)",
                (resolved, time.time()),
            )
            row = self.db.execute("SELECT id FROM folders WHERE path = ?", (resolved,)).fetchone()
        assert row is not None
        return int(row[0])

    def folder_id(self, path: Path) -> int | None:
        row = self.db.execute(
            "SELECT id FROM folders WHERE path = ?", (str(Path(path).expanduser().resolve()),)
        ).fetchone()
        return None if row is None else int(row[0])

    def folders(self) -> list[tuple[int, str]]:
        return [
            (int(i), str(p))
            for i, p in self.db.execute("SELECT id, path FROM folders ORDER BY path")
        ]

    def remove_folder(self, folder_id: int) -> None:
        """Forget a folder and everything indexed from it (the files themselves are untouched)."""
        with self.db:
            for (doc_id,) in self.db.execute(
                "SELECT id FROM documents WHERE folder_id = ?", (folder_id,)
            ).fetchall():
                self._delete_chunks(doc_id)  # type: ignore[arg-type]
            self.db.execute("DELETE FROM folders WHERE id = ?", (folder_id,))

    def mark_folder_indexed(self, folder_id: int) -> None:
        with self.db:
            self.db.execute(
                "UPDATE folders SET indexed_at = ? WHERE id = ?", (time.time(), folder_id)
            )

    # -- documents -------------------------------------------------------------------------
    def documents_in(self, folder_id: int) -> dict[str, DocumentRecord]:
        rows = self.db.execute(
            "SELECT id, folder_id, path, size, mtime, content_hash, status, error "
            "FROM documents WHERE folder_id = ?",
            (folder_id,),
        )
        return {str(r[2]): DocumentRecord(*r) for r in rows}

    def document(self, path: str) -> DocumentRecord | None:
        row = self.db.execute(
            "SELECT id, folder_id, path, size, mtime, content_hash, status, error "
            "FROM documents WHERE path = ?",
            (path,),
        ).fetchone()
        return None if row is None else DocumentRecord(*row)

    def touch_document(self, doc_id: int, size: int, mtime: float) -> None:
        """Record a new size/mtime for a file whose content hash did not change."""
        with self.db:
            self.db.execute(
                "UPDATE documents SET size = ?, mtime = ? WHERE id = ?", (size, mtime, doc_id)
            )

    def store_document(
        self,
        folder_id: int,
        path: str,
        size: int,
        mtime: float,
        content_hash: str,
        pages: int | None,
        chunks: Sequence[ChunkDraft],
        vectors: np.ndarray,
    ) -> int:
        """Replace a document's chunks and vectors atomically; returns the document id."""
        self._require_vectors()
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self.db:
            existing = self.db.execute(
                "SELECT id FROM documents WHERE path = ?", (path,)
            ).fetchone()
            if existing is not None:
                doc_id = int(existing[0])
                self._delete_chunks(doc_id)
                self.db.execute(
                    "UPDATE documents SET folder_id=?, size=?, mtime=?, content_hash=?, "
                    "status='indexed', error=NULL, pages=?, indexed_at=? WHERE id=?",
                    (folder_id, size, mtime, content_hash, pages, time.time(), doc_id),
                )
            else:
                self.db.execute(
                    "INSERT INTO documents(folder_id, path, size, mtime, content_hash, status, "
                    "pages, indexed_at) VALUES (?, ?, ?, ?, ?, 'indexed', ?, ?)",
                    (folder_id, path, size, mtime, content_hash, pages, time.time()),
                )
                doc_id = int(self.db.last_insert_rowid())
            for chunk, vector in zip(chunks, vectors, strict=True):
                self.db.execute(
                    "INSERT INTO chunks(document_id, ordinal, text, page, char_start, char_end, "
                    "heading) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc_id,
                        chunk.ordinal,
                        chunk.text,
                        chunk.page,
                        chunk.char_start,
                        chunk.char_end,
                        chunk.heading,
                    ),
                )
                vector_index.insert(self.db, self.db.last_insert_rowid(), vector)
        return doc_id

    def record_failure(
        self, folder_id: int, path: str, size: int, mtime: float, error: str
    ) -> None:
        """Remember why a file could not be indexed.

        A previously indexed version of the file keeps its chunks, so one bad save never
        empties the library of a document; the error says the stored text is older.
        """
        with self.db:
            existing = self.db.execute(
                "SELECT id, status FROM documents WHERE path = ?", (path,)
            ).fetchone()
            if existing is None:
                self.db.execute(
                    "INSERT INTO documents(folder_id, path, size, mtime, status, error, "
                    "indexed_at) VALUES (?, ?, ?, ?, 'failed', ?, ?)",
                    (folder_id, path, size, mtime, error, time.time()),
                )
                return
            has_chunks = self.db.execute(
                "SELECT 1 FROM chunks WHERE document_id = ? LIMIT 1", (existing[0],)
            ).fetchone()
            if has_chunks:
                error = f"{error} (answers use the last version that could be read)"
            # Keep the old hash so an unchanged retry is skipped only once the file changes.
            self.db.execute(
                "UPDATE documents SET status='failed', error=?, size=?, mtime=?, indexed_at=? "
                "WHERE id=?",
                (error, size, mtime, time.time(), existing[0]),
            )

    def remove_document(self, doc_id: int) -> None:
        with self.db:
            self._delete_chunks(doc_id)
            self.db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    def _delete_chunks(self, doc_id: int) -> None:
        # vec0 tables know nothing of foreign keys: delete their rows explicitly.
        if self.embedder() is not None:
            vector_index.delete_document(self.db, doc_id)
        self.db.execute("DELETE FROM chunks WHERE document_id = ?", (doc_id,))

    # -- reading ---------------------------------------------------------------------------
    def chunks_by_id(self, ids: Sequence[int]) -> dict[int, ChunkRecord]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            "SELECT c.id, c.document_id, d.path, c.page, c.heading, c.text, c.char_start, "
            f"c.char_end FROM chunks c JOIN documents d ON d.id = c.document_id "
            f"WHERE c.id IN ({marks})",
            tuple(ids),
        )
        return {int(r[0]): ChunkRecord(*r) for r in rows}

    def status(self) -> list[FolderStatus]:
        out = []
        for folder_id, path, indexed_at in self.db.execute(
            "SELECT id, path, indexed_at FROM folders ORDER BY path"
        ).fetchall():
            docs = self.db.execute(
                "SELECT count(*) FROM documents WHERE folder_id = ? AND status = 'indexed'",
                (folder_id,),
            ).fetchone()
            chunks = self.db.execute(
                "SELECT count(*) FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE d.folder_id = ?",
                (folder_id,),
            ).fetchone()
            failed = [
                (str(p), str(e))
                for p, e in self.db.execute(
                    "SELECT path, error FROM documents WHERE folder_id = ? AND status = 'failed' "
                    "ORDER BY path",
                    (folder_id,),
                )
            ]
            assert docs is not None and chunks is not None
            out.append(
                FolderStatus(
                    folder_id,  # type: ignore[arg-type]
                    str(path),
                    int(docs[0]),  # type: ignore[arg-type]
                    int(chunks[0]),  # type: ignore[arg-type]
                    failed,
                    indexed_at,  # type: ignore[arg-type]
                )
            )
        return out

    def counts(self) -> dict[str, int]:
        def one(sql: str) -> int:
            row = self.db.execute(sql).fetchone()
            return int(row[0]) if row else 0

        return {
            "folders": one("SELECT count(*) FROM folders"),
            "documents": one("SELECT count(*) FROM documents WHERE status = 'indexed'"),
            "failed": one("SELECT count(*) FROM documents WHERE status = 'failed'"),
            "chunks": one("SELECT count(*) FROM chunks"),
        }

    def iter_documents(self) -> Iterator[DocumentRecord]:
        for row in self.db.execute(
            "SELECT id, folder_id, path, size, mtime, content_hash, status, error FROM documents"
        ):
            yield DocumentRecord(*row)

    def dump_json(self) -> str:
        """A compact description of the library for diagnostics (no document text)."""
        return json.dumps({"path": str(self.path), **self.counts(), "embedder": self.embedder()})
