"""Chat history stored in the library file: conversations, their messages and citations.

The tables come from migration m002. Like `Library`, a `Conversations` object is bound to one
connection and so to one thread. Citations are kept as JSON beside each answer, so an
exported or reopened chat still points at the file, page and passage it was answered from,
even after the library is re-indexed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import apsw

from desktop.errors import LibraryError
from desktop.json_types import JSON, JSONObject
from desktop.library.columns import as_int

if TYPE_CHECKING:
    from desktop.library.passage import Citation

DEFAULT_TITLE = "New chat"
TITLE_CHARS = 60
ROLES = ("user", "assistant")


@dataclass(frozen=True)
class Conversation:
    """One chat as listed in the history pane."""

    id: int
    title: str
    created_at: float
    updated_at: float
    messages: int = 0


@dataclass(frozen=True)
class Message:
    """One turn of a chat, as stored.

    `citations` are JSON objects (see `citation_dict`); `meta` is the JSON object stored
    beside an answer (timings, tokens, found, stopped, model, adapters, passages). Both are
    read back from the library file, so their values are JSON and are narrowed where used.
    """

    id: int
    conversation_id: int
    role: str
    content: str
    citations: list[JSONObject] = field(default_factory=list)
    meta: JSONObject = field(default_factory=dict)
    created_at: float = 0.0


def citation_dict(citation: Citation | Mapping[str, JSON]) -> JSONObject:
    """A citation (`desktop.library.passage.Citation` or one already stored) as the JSON
    stored with a message: its number and its whole place (`Citation.to_json`)."""
    if isinstance(citation, Mapping):
        return dict(citation)
    return citation.to_json()


def title_from(question: str) -> str:
    """A short title for a chat, taken from its first question."""
    words = " ".join(question.split())
    if not words:
        return DEFAULT_TITLE
    if len(words) <= TITLE_CHARS:
        return words
    cut = words[:TITLE_CHARS].rsplit(" ", 1)[0] or words[:TITLE_CHARS]
    return cut.rstrip(",.;:") + "…"


class Conversations:
    """Stores chats in a library database (an apsw connection, e.g. `Library.db`)."""

    def __init__(self, db: apsw.Connection) -> None:
        self.db = db

    # -- chats -----------------------------------------------------------------------------
    def create(self, title: str = DEFAULT_TITLE) -> int:
        now = time.time()
        with self.db:
            self.db.execute(
                "INSERT INTO conversations(title, created_at, updated_at) VALUES (?, ?, ?)",
                (_clean_title(title), now, now),
            )
            new_id = int(self.db.last_insert_rowid())
        return new_id

    def _chats(self, clause: str, params: tuple[int, ...] = ()) -> list[Conversation]:
        """The chats that `clause` (WHERE and/or ORDER BY over `c`) selects."""
        rows = self.db.execute(
            "SELECT c.id, c.title, c.created_at, c.updated_at, "
            "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) "
            "FROM conversations c " + clause,
            params,
        )
        return [Conversation(int(i), str(t), float(c), float(u), int(n)) for i, t, c, u, n in rows]

    def all(self) -> list[Conversation]:
        """Every chat, the most recently used first."""
        return self._chats("ORDER BY c.updated_at DESC, c.id DESC")

    def get(self, conversation_id: int) -> Conversation:
        """Raises: LibraryError: no chat has this id (it was deleted)."""
        found = self._chats("WHERE c.id = ?", (conversation_id,))
        if not found:
            raise LibraryError(f"chat {conversation_id} no longer exists")
        return found[0]

    def latest(self) -> Conversation | None:
        chats = self.all()
        return chats[0] if chats else None

    def rename(self, conversation_id: int, title: str) -> None:
        self.get(conversation_id)
        with self.db:
            self.db.execute(
                "UPDATE conversations SET title = ? WHERE id = ?",
                (_clean_title(title), conversation_id),
            )

    def delete(self, conversation_id: int) -> None:
        """Delete a chat and its messages (foreign keys cascade; done explicitly as well)."""
        with self.db:
            self.db.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            self.db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # -- messages --------------------------------------------------------------------------
    def add_message(
        self,
        conversation_id: int,
        role: str,
        content: str,
        citations: Iterable[Citation | Mapping[str, JSON]] = (),
        meta: Mapping[str, JSON] | None = None,
    ) -> int:
        """Append a turn; the first question also names a chat that still has the default title."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        chat = self.get(conversation_id)
        now = time.time()
        cites = json.dumps([citation_dict(c) for c in citations], ensure_ascii=False)
        with self.db:
            self.db.execute(
                "INSERT INTO messages(conversation_id, role, content, citations, meta, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    role,
                    content,
                    cites,
                    json.dumps(dict(meta or {}), ensure_ascii=False),
                    now,
                ),
            )
            message_id = int(self.db.last_insert_rowid())
            title = chat.title
            if role == "user" and chat.messages == 0 and title == DEFAULT_TITLE:
                title = title_from(content)
            self.db.execute(
                "UPDATE conversations SET updated_at = ?, title = ? WHERE id = ?",
                (now, title, conversation_id),
            )
        return message_id

    def message(self, message_id: int) -> Message:
        """Raises: LibraryError: no such message (its chat was deleted)."""
        row = self.db.execute(
            "SELECT id, conversation_id, role, content, citations, meta, created_at "
            "FROM messages WHERE id = ?",
            (message_id,),
        ).fetchone()
        if row is None:
            raise LibraryError(f"message {message_id} no longer exists")
        return _message(row)

    def update_message(
        self,
        message_id: int,
        citations: Iterable[Citation | Mapping[str, JSON]],
        meta: Mapping[str, JSON],
    ) -> None:
        """Replace a stored answer's citations and metadata (its text stays as shown)."""
        self.message(message_id)
        cites = json.dumps([citation_dict(c) for c in citations], ensure_ascii=False)
        with self.db:
            self.db.execute(
                "UPDATE messages SET citations = ?, meta = ? WHERE id = ?",
                (cites, json.dumps(dict(meta), ensure_ascii=False), message_id),
            )

    def messages(self, conversation_id: int) -> list[Message]:
        rows = self.db.execute(
            "SELECT id, conversation_id, role, content, citations, meta, created_at "
            "FROM messages WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        )
        return [_message(row) for row in rows]

    def history(
        self, conversation_id: int, turns: int = 2, max_chars: int = 600
    ) -> list[dict[str, str]]:
        """The last `turns` question/answer pairs as chat messages, for a follow-up question.

        Stopped and not-found answers are left out: they would teach the model nothing.
        """
        pairs: list[tuple[Message, Message]] = []
        msgs = self.messages(conversation_id)
        for question, answer in zip(msgs, msgs[1:], strict=False):
            if question.role == "user" and answer.role == "assistant":
                if answer.meta.get("stopped") or answer.meta.get("found") is False:
                    continue
                pairs.append((question, answer))
        out: list[dict[str, str]] = []
        for question, answer in pairs[-turns:] if turns > 0 else []:
            out.append({"role": "user", "content": question.content[:max_chars]})
            out.append({"role": "assistant", "content": answer.content[:max_chars]})
        return out

    # -- export ----------------------------------------------------------------------------
    def export_markdown(self, conversation_id: int) -> str:
        """The chat as Markdown: each question, each answer and the sources it cited."""
        chat = self.get(conversation_id)
        stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(chat.created_at))
        lines = [f"# {chat.title}", "", f"*Folio chat, started {stamp}*", ""]
        for message in self.messages(conversation_id):
            if message.role == "user":
                lines += ["## Question", "", message.content.strip(), ""]
                continue
            lines += ["## Answer", "", message.content.strip(), ""]
            if message.meta.get("stopped"):
                lines += ["*(stopped before the end)*", ""]
            if message.citations:
                lines += ["**Sources**", ""]
                lines += [_source_line(c) for c in message.citations]
                lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def export_to(self, conversation_id: int, path: Path) -> Path:
        """Write `export_markdown` to `path`.

        Raises:
            LibraryError: the file cannot be written (the message names it).
        """
        text = self.export_markdown(conversation_id)
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise LibraryError(f"cannot write {path}: {exc.strerror or exc}") from None
        return Path(path)


def json_objects(value: JSON) -> list[JSONObject]:
    """The objects of a JSON list: a message's stored citations, its meta's passages.

    Anything else (not a list, or an item that is not an object) is left out: Folio never
    stores it, and a view could not show it.
    """
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _message(row: apsw.SQLiteValues) -> Message:
    i, c, r, text, cites, meta, at = row
    stored_meta = _loads(meta)
    return Message(
        as_int(i),
        as_int(c),
        str(r),
        str(text),
        json_objects(_loads(cites)),
        stored_meta if isinstance(stored_meta, dict) else {},
        _real(at),
    )


def _real(value: apsw.SQLiteValue) -> float:
    """The value of a REAL column (created_at is NOT NULL)."""
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"expected a real column value, got {type(value).__name__}")


def _source_line(citation: Mapping[str, JSON]) -> str:
    path = Path(str(citation.get("path", "")))
    where = path.name + (f", page {citation['page']}" if citation.get("page") else "")
    excerpt = " ".join(str(citation.get("text", "")).split())
    if len(excerpt) > 240:
        excerpt = excerpt[:240].rsplit(" ", 1)[0] + "…"
    line = f"{citation.get('n', '?')}. **{where}** — `{path}`"
    return f"{line}\n   > {excerpt}" if excerpt else line


def _clean_title(title: str) -> str:
    cleaned = " ".join(title.split())
    return cleaned[:200] if cleaned else DEFAULT_TITLE


def _loads(raw: apsw.SQLiteValue) -> JSON:
    """A stored JSON column; None if it does not parse."""
    try:
        value: JSON = json.loads(str(raw))
    except ValueError:
        return None
    return value
