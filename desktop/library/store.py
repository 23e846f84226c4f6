"""The library: one SQLite file holding folders, documents, chunks, FTS5 and vectors.

All writes of one document happen in one transaction, so a crash never leaves half a
document: either the old version or the new one is stored. Its vectors may come later,
each batch in a transaction of its own (`add_vectors`): until then its chunks wait on the
list in `desktop.library.pending`. Vectors are read and written
only through `desktop.library.vectors`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import apsw
import numpy as np

from desktop.closing import Closeable
from desktop.errors import LibraryError
from desktop.ingest.types import ChunkDraft
from desktop.library import document_rows, folder_list, pending, subpath
from desktop.library import vectors as vector_index
from desktop.library.chunk_keys import text_for
from desktop.library.db import DEFAULT_BUSY_TIMEOUT_MS, connect
from desktop.library.folder_delete import delete_folder_chunks
from desktop.library.passage import ChunkRecord
from desktop.library.status import FolderStatus, folder_statuses

__all__ = ["ChunkRecord", "DocumentRecord", "FolderStatus", "Library"]

_DOC_COLUMNS = "id, folder_id, path, size, mtime, content_hash, status, error"
# Rows per statement when deleting many chunks at once (SQLite's variable limit is 32766).
_DELETE_BATCH = 5000


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


class Library(Closeable):
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
        folder_list.save(self.path, [p for _, p in self.folders()])
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
        """Forget a folder and everything indexed from it (the files themselves are untouched).

        One transaction, set-based: vectors, chunks (with their FTS rows), documents and the
        skipped list go in a few statements, so 10,000 chunks take well under a second.
        """
        with self.db:
            if self.embedder() is not None:
                vector_index.delete_folder(self.db, folder_id)
            delete_folder_chunks(self.db, folder_id)  # with their keyword rows
            self.db.execute("DELETE FROM documents WHERE folder_id = ?", (folder_id,))
            self.db.execute("DELETE FROM skipped WHERE folder_id = ?", (folder_id,))
            self.db.execute("DELETE FROM folders WHERE id = ?", (folder_id,))
        folder_list.save(self.path, [p for _, p in self.folders()])

    def mark_folder_indexed(self, folder_id: int) -> None:
        with self.db:
            self.db.execute(
                "UPDATE folders SET indexed_at = ? WHERE id = ?", (time.time(), folder_id)
            )

    def replace_skipped(
        self, folder_id: int, under: Path, entries: Iterable[tuple[str, str, bool]]
    ) -> None:
        """Record what a scan of `under` (the folder or a part of it) skipped, and why."""
        now = time.time()
        with self.db:
            self.db.execute(
                f"DELETE FROM skipped WHERE folder_id = ? AND {subpath.SQL_UNDER}",
                (folder_id, *subpath.sql_values(str(under))),
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO skipped(folder_id, path, reason, is_dir, seen_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(folder_id, p, r, int(d), now) for p, r, d in entries],
            )

    def forget_skipped(self, paths: Iterable[str]) -> None:
        """Drop skipped entries for these paths (they were indexed or are gone)."""
        with self.db:
            self.db.executemany("DELETE FROM skipped WHERE path = ?", [(p,) for p in paths])

    # -- documents -------------------------------------------------------------------------
    def documents_in(self, folder_id: int) -> dict[str, DocumentRecord]:
        rows = self.db.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE folder_id = ?", (folder_id,)
        )
        return {str(r[2]): DocumentRecord(*r) for r in rows}

    def document(self, path: str) -> DocumentRecord | None:
        row = self.db.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE path = ?", (path,)
        ).fetchone()
        return None if row is None else DocumentRecord(*row)

    def documents_with_hash(self, content_hash: str) -> list[DocumentRecord]:
        rows = self.db.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE content_hash = ? AND status = 'indexed'",
            (content_hash,),
        )
        return [DocumentRecord(*r) for r in rows]

    def touch_document(self, doc_id: int, size: int, mtime: float) -> None:
        """Record a new size/mtime for a file whose content hash did not change."""
        with self.db:
            self.db.execute(
                "UPDATE documents SET size = ?, mtime = ? WHERE id = ?", (size, mtime, doc_id)
            )

    def move_document(
        self, doc_id: int, folder_id: int, new_path: str, size: int, mtime: float
    ) -> None:
        """A renamed or moved file: same content, new path. Nothing is parsed or embedded."""
        with self.db:
            self.db.execute("DELETE FROM documents WHERE path = ? AND id != ?", (new_path, doc_id))
            before = self.db.execute(
                "SELECT folder_id FROM documents WHERE id = ?", (doc_id,)
            ).fetchone()
            self.db.execute(
                "UPDATE documents SET folder_id = ?, path = ?, size = ?, mtime = ? WHERE id = ?",
                (folder_id, new_path, size, mtime, doc_id),
            )
            if before is not None and int(before[0]) != folder_id and self.embedder():
                vector_index.refolder_document(self.db, doc_id)  # the index's partition key
            self.db.execute("DELETE FROM skipped WHERE path = ?", (new_path,))

    def vectors_for_keys(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks with these reuse keys (keys not stored are left out)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted or self.embedder() is None:
            return {}
        ids: dict[int, str] = {}
        # A chunk still waiting for its vector has its key too: only the others can lend one
        # (the lowest id among all of them could be a waiting chunk, and its key then read as
        # never embedded, though another chunk holds the vector).
        waiting = pending.waiting_clause(self.db, "id")
        for start in range(0, len(wanted), _DELETE_BATCH):
            part = wanted[start : start + _DELETE_BATCH]
            marks = ",".join("?" * len(part))
            for key, chunk_id in self.db.execute(
                f"SELECT embed_key, min(id) FROM chunks WHERE embed_key IN ({marks}) "
                f"{waiting} GROUP BY embed_key",
                part,
            ):
                ids[int(chunk_id)] = str(key)
        found = vector_index.vectors_of(self.db, list(ids))
        return {ids[cid]: vector for cid, vector in found.items()}

    def store_document(
        self,
        folder_id: int,
        path: str,
        size: int,
        mtime: float,
        content_hash: str,
        pages: int | None,
        chunks: Sequence[ChunkDraft],
        vectors: np.ndarray | Mapping[int, np.ndarray],
        keys: Sequence[str | None] | None = None,
        notes: Sequence[str] = (),
    ) -> int:
        """Replace a document's chunks and vectors atomically; returns the document id.

        Args:
            vectors: one per chunk (an array), or those known so far by chunk index (a
                mapping): a chunk without one is stored waiting for it (`pending`), found
                by keyword search now and by vector search once `add_vectors` stores it.
            keys: each chunk's reuse key (`chunk_keys.embed_key`), stored beside it.
            notes: what the user should know about the document (pages without text...).
        """
        self._require_vectors()
        if isinstance(vectors, np.ndarray):
            if len(vectors) != len(chunks):
                raise ValueError("one vector per chunk")
            known: Mapping[int, np.ndarray] = dict(enumerate(vectors))
        else:
            known = vectors
        if keys is not None and len(keys) != len(chunks):
            raise ValueError("one key per chunk")
        row = document_rows.DocumentRow(
            folder_id, path, size, mtime, content_hash, pages, "\n".join(notes) or None
        )
        with self.db:
            doc_id = document_rows.replace(self.db, row, chunks, known, keys, has_vectors=True)
        return doc_id

    def add_vectors(self, texts: Mapping[int, str], vectors: np.ndarray) -> int:
        """Store the vectors of chunks stored without one, in one transaction; returns how
        many were stored.

        Args:
            texts: chunk id -> the text that was embedded for it (`chunk_keys.text_for`),
                in the order of `vectors`' rows. A chunk that got its vector meanwhile, was
                deleted, or whose id now holds other text (an id freed by a deletion is
                given to the next chunk) is left alone.
        """
        self._require_vectors()
        if len(texts) != len(vectors):
            raise ValueError("one vector per chunk")
        row_of = {cid: i for i, cid in enumerate(texts)}
        with self.db:
            current = pending.still_pending(self.db, list(texts))
            fits = [c.id for c in current if text_for(c.text, c.heading) == texts[c.id]]
            if fits:
                vector_index.insert_many(
                    self.db, fits, np.asarray(vectors, dtype=np.float32)[[row_of[c] for c in fits]]
                )
        return len(fits)

    def embedding(self, *, exact: bool = False) -> pending.Embedding:
        """How many chunks have vectors so far (`pending.progress`)."""
        return pending.progress(self.db, exact=exact)

    def record_failure(
        self, folder_id: int, path: str, size: int, mtime: float, error: str
    ) -> None:
        """Remember why a file could not be indexed.

        A previously indexed version of the file keeps its chunks, so one bad save never
        empties the library of a document; the error says the stored text is older.
        """
        with self.db:
            self.db.execute("DELETE FROM skipped WHERE path = ?", (path,))
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

    def remove_documents_under(self, folder_id: int, under: str) -> int:
        """Remove every document at or below the path `under` (a deleted file or folder)."""
        ids = [
            int(r[0])
            for r in self.db.execute(
                f"SELECT id FROM documents WHERE folder_id = ? AND {subpath.SQL_UNDER}",
                (folder_id, *subpath.sql_values(under)),
            )
        ]
        with self.db:
            for doc_id in ids:
                self._delete_chunks(doc_id)
                self.db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
            self.db.execute(
                f"DELETE FROM skipped WHERE folder_id = ? AND {subpath.SQL_UNDER}",
                (folder_id, *subpath.sql_values(under)),
            )
        return len(ids)

    def _delete_chunks(self, doc_id: int) -> None:
        document_rows.delete_chunks(self.db, doc_id, self.embedder() is not None)

    # -- reading ---------------------------------------------------------------------------
    def chunks_by_id(self, ids: Sequence[int]) -> dict[int, ChunkRecord]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            "SELECT c.id, c.document_id, d.path, c.page, c.heading, c.text, c.char_start, "
            f"c.char_end, c.location FROM chunks c JOIN documents d ON d.id = c.document_id "
            f"WHERE c.id IN ({marks})",
            tuple(ids),
        )
        return {int(r[0]): ChunkRecord(*r) for r in rows}

    def status(self) -> list[FolderStatus]:
        """Each folder's counts, failed files, skipped files and documents with notes."""
        return folder_statuses(self.db)

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
        for row in self.db.execute(f"SELECT {_DOC_COLUMNS} FROM documents"):
            yield DocumentRecord(*row)

    def dump_json(self) -> str:
        """A compact description of the library for diagnostics (no document text)."""
        return json.dumps({"path": str(self.path), **self.counts(), "embedder": self.embedder()})
