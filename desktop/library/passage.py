"""A passage's place in the library: one record, from the index to the answer, its JSON,
the saved chat and the sources panel (so "open at page" and the exact highlight work from
saved chats too)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from desktop.json_types import JSONObject, attributes

# What a passage's JSON holds: its place and text (the document id stays in the library).
_JSON_KEYS = ("chunk_id", "path", "page", "heading", "location", "char_start", "char_end", "text")


@dataclass(frozen=True)
class ChunkRecord:
    """A stored chunk and its place: file, page (or sheet/slide label), heading, char span."""

    chunk_id: int
    document_id: int
    path: str
    page: int | None
    heading: str | None
    text: str
    char_start: int
    char_end: int
    location: str | None = None

    def to_json(self) -> JSONObject:
        return attributes(self, _JSON_KEYS)


@dataclass(frozen=True)
class Citation(ChunkRecord):
    """A passage as one answer numbers it: the chunk's place and its `[n]`."""

    n: int = 0

    @classmethod
    def numbered(cls, n: int, chunk: ChunkRecord) -> Citation:
        """`chunk` as passage [n]."""
        return cls(**{f.name: getattr(chunk, f.name) for f in fields(ChunkRecord)}, n=n)

    @classmethod
    def of_text(cls, n: int, text: str, path: str = "") -> Citation:
        """A passage given as bare text (evaluation prompts, training examples)."""
        return cls(n, 0, path or f"passage{n}.txt", None, None, text, 0, len(text), n=n)

    def renumbered(self, n: int, text: str | None = None) -> Citation:
        """The same place as passage `n`, with `text` shown instead (a trimmed copy)."""
        return replace(self, n=n, text=self.text if text is None else text)

    def to_json(self) -> JSONObject:
        """n and the passage's whole place: what `ask --json`, saved chats and the panel use."""
        return {"n": self.n, **super().to_json()}
