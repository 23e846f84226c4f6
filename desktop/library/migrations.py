"""Numbered schema migrations. Released migrations are never edited: add a new one.

The vector tables are created by `desktop.library.vectors` (`Library.bind_embedder` calls it
once and records the embedding model in `meta`); migration 4 moved older libraries' vectors
out of their sqlite-vec `vec0` table, and migration 5 built the sqlite-vec int8 index
from them. Each migration runs in one transaction (`desktop.library.db.migrate`), so a
process killed in the middle leaves the library at the schema before it, whole.
"""

from __future__ import annotations

from collections.abc import Callable

import apsw

from desktop.library.chunk_keys import embed_key, text_for


def m001_create_tables(db: apsw.Connection) -> None:
    db.execute(
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE folders (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            added_at REAL NOT NULL,
            indexed_at REAL
        );
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
            path TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            content_hash TEXT,
            status TEXT NOT NULL CHECK (status IN ('indexed', 'failed')),
            error TEXT,
            pages INTEGER,
            indexed_at REAL NOT NULL
        );
        CREATE INDEX documents_folder ON documents(folder_id);
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            text TEXT NOT NULL,
            page INTEGER,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            heading TEXT,
            UNIQUE (document_id, ordinal)
        );
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, heading,
            content='chunks', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);
        END;
        CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text, heading)
            VALUES ('delete', old.id, old.text, old.heading);
        END;
        """
    )


def m002_conversations(db: apsw.Connection) -> None:
    db.execute(
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            citations TEXT NOT NULL DEFAULT '[]',
            meta TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL
        );
        CREATE INDEX messages_conversation ON messages(conversation_id, id);
        """
    )


def m003_ingest_tracking(db: apsw.Connection) -> None:
    """Chunk reuse keys and locations, document notes and content-hash lookups, and the
    files each folder's last scan skipped (with reasons)."""
    db.execute(
        """
        ALTER TABLE chunks ADD COLUMN embed_key TEXT;
        ALTER TABLE chunks ADD COLUMN location TEXT;
        CREATE INDEX chunks_embed_key ON chunks(embed_key);
        ALTER TABLE documents ADD COLUMN notes TEXT;
        CREATE INDEX documents_hash ON documents(content_hash);
        CREATE TABLE skipped (
            id INTEGER PRIMARY KEY,
            folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            reason TEXT NOT NULL,
            is_dir INTEGER NOT NULL DEFAULT 0,
            seen_at REAL NOT NULL,
            UNIQUE (folder_id, path)
        );
        """
    )
    # Keys for chunks stored before this migration, so they are reused like new ones.
    row = db.execute("SELECT value FROM meta WHERE key = 'embedding_model'").fetchone()
    if row is None:
        return
    model = str(row[0])
    keys = [
        (embed_key(model, text_for(str(text), heading)), chunk_id)
        for chunk_id, text, heading in db.execute("SELECT id, text, heading FROM chunks")
    ]
    db.executemany("UPDATE chunks SET embed_key = ? WHERE id = ?", keys)


def m004_vector_tables(db: apsw.Connection) -> None:
    """Vectors move from the sqlite-vec vec0 table into plain tables of floats and of binary
    codes (see `desktop.library.vectors`): point reads for rescoring, a prefilter scan."""
    from desktop.library import vectors

    vectors.migrate_from_vec0(db)


def m005_sqlite_vec_index(db: apsw.Connection) -> None:
    """The search moves into sqlite-vec: a `vec0` table of int8 codes partitioned by folder
    and by k-means cell, built from the stored floats (nothing is embedded again); schema
    4's table of codes, which every process loaded into memory, is dropped."""
    from desktop.library import vectors

    vectors.rebuild_index(db)


def m006_pending_vectors(db: apsw.Connection) -> None:
    """Chunks are stored before their vectors (text and keywords first, embeddings after):
    `chunk_pending` lists the chunks that have no vector yet, kept exact by triggers, so
    an interrupted run's leftovers are found without scanning the library."""
    from desktop.library import pending

    pending.create(db)


MIGRATIONS: list[Callable[[apsw.Connection], None]] = [
    m001_create_tables,
    m002_conversations,
    m003_ingest_tracking,
    m004_vector_tables,
    m005_sqlite_vec_index,
    m006_pending_vectors,
]
