"""The two values ingestion hands on: extracted sections and the chunks cut from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: What joins sections into a document's full text; chunk offsets count it.
SECTION_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Section:
    """A run of document text with its 1-based PDF page and the nearest heading above it."""

    text: str
    page: int | None
    heading: str | None

    def __post_init__(self) -> None:
        if self.page is not None and self.page < 1:
            raise ValueError(f"page numbers start at 1, got {self.page}")


@dataclass(frozen=True)
class ChunkDraft:
    """A piece of a document sized for the embedder, located by offsets into its full text."""

    ordinal: int
    text: str
    page: int | None
    heading: str | None
    char_start: int
    char_end: int


def full_text(sections: Sequence[Section]) -> str:
    """Return the document's full text: the sections' texts joined by a blank line."""
    return SECTION_SEPARATOR.join(s.text for s in sections)
