"""The values ingestion hands on: extracted sections, what extraction noticed, and chunks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

#: What joins sections into a document's full text; chunk offsets count it.
SECTION_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Section:
    """A run of document text with its 1-based page, the nearest heading above it, and where
    it sits in the document's own terms (a PDF page label, a sheet's row range, a chapter)."""

    text: str
    page: int | None
    heading: str | None
    location: str | None = None

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
    location: str | None = None
    tokens: int = 0  # content tokens (the embedder's tokenizer), for memory-bounded batches


@dataclass
class Extracted:
    """A document's sections and the notes a user should see beside it (pages with no text
    layer, OCR used, rows left out)."""

    sections: list[Section]
    notes: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int | None:
        """The highest page number any section has (None for documents without pages)."""
        return max((s.page for s in self.sections if s.page is not None), default=None)


def full_text(sections: Sequence[Section]) -> str:
    """Return the document's full text: the sections' texts joined by a blank line."""
    return SECTION_SEPARATOR.join(s.text for s in sections)
