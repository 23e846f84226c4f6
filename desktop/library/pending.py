"""Chunks stored without a vector yet: indexing commits text and keywords first and embeds
after, so a library may hold chunks that keyword search finds and vector search does not.

`chunk_pending` lists them. SQLite keeps it exact inside every transaction, by triggers:
a new chunk is pending, a stored vector takes its chunk off the list, a deleted chunk
leaves it. So a crash at any moment leaves the list true, and the next indexing run
embeds exactly what it names (nothing is lost, nothing embedded twice), without scanning
a library of a million chunks for the ones that lack a vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import apsw

from desktop.library.columns import as_int, as_str

TABLE = "chunk_pending"
FLOATS = "chunk_vector_floats"  # desktop.library.vectors.FLOATS (which imports this module)


@dataclass(frozen=True)
class Embedding:
    """How far the library's embedding has come: `embedded` of `chunks` have vectors."""

    embedded: int
    chunks: int

    @property
    def pending(self) -> int:
        return self.chunks - self.embedded

    @property
    def done(self) -> bool:
        return self.pending <= 0

    @property
    def percent(self) -> int:
        """Whole percent embedded, never shown as 100 while a chunk is left."""
        if self.chunks <= 0 or self.done:
            return 100
        return min(99, int(100 * self.embedded / self.chunks))

    def note(self) -> str:
        """What a search or an answer over this library says while embedding goes on."""
        return (
            f"still indexing: {self.percent} % embedded ({self.embedded:,} of "
            f"{self.chunks:,} chunks); meaning-based search sees only those so far"
        )


@dataclass(frozen=True)
class PendingChunk:
    """A chunk to embed: its id, the text the embedder sees, and its stored reuse key."""

    id: int
    text: str
    heading: str | None
    key: str | None


def create(db: apsw.Connection) -> None:
    """Create the list and its triggers, listing the chunks that have no vector now."""
    db.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY);
        CREATE TRIGGER IF NOT EXISTS chunks_pending_ai AFTER INSERT ON chunks BEGIN
            INSERT OR IGNORE INTO {TABLE}(id) VALUES (new.id);
        END;
        CREATE TRIGGER IF NOT EXISTS chunks_pending_ad AFTER DELETE ON chunks BEGIN
            DELETE FROM {TABLE} WHERE id = old.id;
        END;
        """
    )
    if _has(db, FLOATS):
        watch_vectors(db)
        db.execute(
            f"INSERT OR IGNORE INTO {TABLE}(id) SELECT c.id FROM chunks c WHERE NOT EXISTS "
            f"(SELECT 1 FROM {FLOATS} f WHERE f.id = c.id)"
        )
    else:
        db.execute(f"INSERT OR IGNORE INTO {TABLE}(id) SELECT id FROM chunks")


def watch_vectors(db: apsw.Connection) -> None:
    """The trigger that takes a chunk off the list once its vector is stored (made with the
    vector table, `desktop.library.vectors.create`)."""
    if not _has(db, TABLE):
        return  # an older schema: migration 6 lists the pending chunks and adds this
    db.execute(
        f"CREATE TRIGGER IF NOT EXISTS {FLOATS}_pending AFTER INSERT ON {FLOATS} BEGIN "
        f"DELETE FROM {TABLE} WHERE id = new.id; END;"
    )


def waiting_clause(db: apsw.Connection, column: str) -> str:
    """SQL that leaves out the chunks on the list (`AND column NOT IN ...`), or nothing in
    a library older than the list."""
    return f"AND {column} NOT IN (SELECT id FROM {TABLE})" if _has(db, TABLE) else ""


def _has(db: apsw.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def count(db: apsw.Connection) -> int:
    """How many chunks wait for a vector (cheap: the list is small once embedding is done;
    0 in a library older than the list, where every chunk has its vector)."""
    if not _has(db, TABLE):
        return 0
    row = db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
    return int(row[0]) if row else 0


def progress(db: apsw.Connection, *, exact: bool = False) -> Embedding:
    """How many of the library's chunks have vectors. Counts every chunk only while some
    are pending or when `exact`: a finished library answers from the empty list alone
    (as 0 of 0, done)."""
    waiting = count(db)
    if waiting == 0 and not exact:
        return Embedding(0, 0)
    row = db.execute("SELECT count(*) FROM chunks").fetchone()
    chunks = int(row[0]) if row else 0
    return Embedding(chunks - waiting, chunks)


def after(db: apsw.Connection, last_id: int, limit: int) -> list[PendingChunk]:
    """Up to `limit` pending chunks with ids above `last_id`, in id order."""
    rows = db.execute(
        f"SELECT c.id, c.text, c.heading, c.embed_key FROM {TABLE} p "
        "JOIN chunks c ON c.id = p.id WHERE p.id > ? ORDER BY p.id LIMIT ?",
        (last_id, limit),
    )
    return [
        PendingChunk(as_int(i), as_str(t), None if h is None else as_str(h), _opt(k))
        for i, t, h, k in rows
    ]


def with_keys(db: apsw.Connection, keys: Sequence[str]) -> list[tuple[int, str]]:
    """(chunk id, key) of every pending chunk whose reuse key is one of `keys`."""
    out: list[tuple[int, str]] = []
    for start in range(0, len(keys), 900):
        part = list(keys[start : start + 900])
        marks = ",".join("?" * len(part))
        out.extend(
            (as_int(i), as_str(k))
            for i, k in db.execute(
                f"SELECT c.id, c.embed_key FROM chunks c JOIN {TABLE} p ON p.id = c.id "
                f"WHERE c.embed_key IN ({marks})",
                part,
            )
        )
    return out


def still_pending(db: apsw.Connection, ids: Sequence[int]) -> list[PendingChunk]:
    """Those of `ids` that are still pending, with their current text (a chunk id freed by
    a deletion may be given to another chunk meanwhile: callers compare the text)."""
    out: list[PendingChunk] = []
    for start in range(0, len(ids), 900):
        part = [int(i) for i in ids[start : start + 900]]
        marks = ",".join("?" * len(part))
        out.extend(
            PendingChunk(as_int(i), as_str(t), None if h is None else as_str(h), _opt(k))
            for i, t, h, k in db.execute(
                f"SELECT c.id, c.text, c.heading, c.embed_key FROM {TABLE} p "
                f"JOIN chunks c ON c.id = p.id WHERE p.id IN ({marks})",
                part,
            )
        )
    return out


def problems(db: apsw.Connection) -> list[str]:
    """Where the list is not exact (a consistency check: should be empty)."""
    if not _has(db, TABLE):
        return []
    out = []
    row = db.execute(
        f"SELECT count(*) FROM {TABLE} p "
        "WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.id = p.id)"
    ).fetchone()
    if row and row[0]:
        out.append(f"{row[0]} chunks waiting for a vector do not exist")
    if _has(db, FLOATS):
        row = db.execute(
            f"SELECT count(*) FROM {TABLE} p JOIN {FLOATS} f ON f.id = p.id"
        ).fetchone()
        if row and row[0]:
            out.append(f"{row[0]} chunks listed as waiting for a vector have one")
    return out


def _opt(value: object) -> str | None:
    return None if value is None else as_str(value)
