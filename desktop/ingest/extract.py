"""Turn a document file of any supported kind into sections of clean text."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

from desktop.errors import ExtractionError
from desktop.ingest.html_text import html_sections
from desktop.ingest.markup import markdown_sections, rst_sections
from desktop.ingest.office import extract_docx
from desktop.ingest.pdf import extract_pdf
from desktop.ingest.text import clean_code, clean_plain, decode, os_errors_named, read_bytes
from desktop.ingest.types import Section

PROSE_SUFFIXES = frozenset({".txt", ".text"})
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
CODE_SUFFIXES = frozenset(
    ".py .js .ts .tsx .jsx .java .c .h .cpp .hpp .cs .go .rs .rb .php .swift .kt .scala .sh "
    ".sql .css .scss .json .yaml .yml .toml .ini .cfg .xml .r .m .lua .csv .tsv".split()
)

_Extractor = Callable[[Path], list[Section]]


def _plain(path: Path) -> list[Section]:
    """A plain text file: one section, each line's indentation kept, titled by its first line
    when that line stands alone like a title."""
    text = clean_plain(decode(read_bytes(path), path))
    return [Section(text, None, plain_title(text))] if text.strip() else []


# A first line longer than this reads as prose, not as a title.
_MAX_TITLE_CHARS = 250


def plain_title(text: str) -> str | None:
    """The title of a plain text file: a lone first line followed by a blank line and more text.

    The text keeps the line (nothing is removed from passages); the title becomes the
    section's heading, so every chunk of the file is searchable and embedded with it.
    """
    head, sep, rest = text.strip().partition("\n\n")
    if not sep or not rest.strip() or "\n" in head:
        return None
    head = head.strip()
    return head if 0 < len(head) <= _MAX_TITLE_CHARS else None


def _code(path: Path) -> list[Section]:
    """Source code or data: one section, every space kept."""
    return _single(clean_code(decode(read_bytes(path), path)))


def _markdown(path: Path) -> list[Section]:
    return markdown_sections(decode(read_bytes(path), path))


def _rst(path: Path) -> list[Section]:
    return rst_sections(decode(read_bytes(path), path))


def _html(path: Path) -> list[Section]:
    return html_sections(read_bytes(path), path)


def _single(text: str) -> list[Section]:
    return [Section(text=text, page=None, heading=None)] if text.strip() else []


_EXTRACTORS: dict[str, _Extractor] = {
    **dict.fromkeys(PROSE_SUFFIXES, _plain),
    **dict.fromkeys(MARKDOWN_SUFFIXES, _markdown),
    **dict.fromkeys(CODE_SUFFIXES, _code),
    ".rst": _rst,
    ".html": _html,
    ".htm": _html,
    ".pdf": extract_pdf,
    ".docx": extract_docx,
}

#: File name suffixes (lower case, with the dot) that `extract` can read.
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_EXTRACTORS)


def extract(path: Path) -> list[Section]:
    """Return the text of a document as one or more non-empty sections, in reading order.

    Raises:
        ExtractionError: the file cannot be read, is of an unsupported kind, is damaged,
            encrypted, binary or holds no text. The message names the file and the reason.
    """
    extractor = _EXTRACTORS.get(path.suffix.lower())
    if extractor is None:
        kind = f"'{path.suffix}'" if path.suffix else "(no extension)"
        raise ExtractionError(f"{path}: unsupported file type {kind}")
    with os_errors_named(path):
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ExtractionError(f"{path}: is a folder, not a file")
        if info.st_size == 0:
            raise ExtractionError(f"{path}: empty file")
        sections = extractor(path)
    if not sections:
        raise ExtractionError(f"{path}: no text found (the file holds only whitespace or markup)")
    return sections
