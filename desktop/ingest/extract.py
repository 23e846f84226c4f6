"""Turn a document file of any supported kind into sections of clean text."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

from desktop.errors import ExtractionError
from desktop.ingest.epub import extract_epub
from desktop.ingest.html_text import html_sections
from desktop.ingest.kinds import (
    CODE_SUFFIXES,
    MARKDOWN_SUFFIXES,
    PROSE_SUFFIXES,
    TABLE_SUFFIXES,
    WORKBOOK_SUFFIXES,
)
from desktop.ingest.limits import DEFAULT_LIMITS, IngestLimits
from desktop.ingest.markup import markdown_sections, rst_sections
from desktop.ingest.office import extract_docx
from desktop.ingest.opendoc import extract_odt
from desktop.ingest.pdf import extract_pdf
from desktop.ingest.sheets import extract_delimited, extract_workbook
from desktop.ingest.slides import extract_pptx
from desktop.ingest.text import (
    clean_code,
    clean_plain,
    decode,
    os_errors_named,
    plain_title,
    read_bytes,
)
from desktop.ingest.types import Extracted, Section

_Extractor = Callable[[Path, IngestLimits], "list[Section] | Extracted"]


def _text(path: Path, limits: IngestLimits) -> str:
    """A text file's decoded text, refused before reading when it is over the text limit."""
    return decode(read_bytes(path, limits.max_text_chars), path)


def _plain(path: Path, limits: IngestLimits) -> list[Section]:
    """A plain text file: one section, each line's indentation kept, titled by its first line
    when that line stands alone like a title."""
    text = clean_plain(_text(path, limits))
    return [Section(text, None, plain_title(text))] if text.strip() else []


def _code(path: Path, limits: IngestLimits) -> list[Section]:
    """Source code or data: one section, every space kept."""
    return _single(clean_code(_text(path, limits)))


def _markdown(path: Path, limits: IngestLimits) -> list[Section]:
    return markdown_sections(_text(path, limits))


def _rst(path: Path, limits: IngestLimits) -> list[Section]:
    return rst_sections(_text(path, limits))


def _html(path: Path, limits: IngestLimits) -> list[Section]:
    return html_sections(read_bytes(path, limits.max_text_chars), path, limits)


def _single(text: str) -> list[Section]:
    return [Section(text=text, page=None, heading=None)] if text.strip() else []


EXTRACTORS: dict[str, _Extractor] = {
    **dict.fromkeys(PROSE_SUFFIXES, _plain),
    **dict.fromkeys(MARKDOWN_SUFFIXES, _markdown),
    **dict.fromkeys(CODE_SUFFIXES, _code),
    **dict.fromkeys(TABLE_SUFFIXES, extract_delimited),
    **dict.fromkeys(WORKBOOK_SUFFIXES, extract_workbook),
    ".rst": _rst,
    ".html": _html,
    ".htm": _html,
    ".xhtml": _html,
    ".pdf": extract_pdf,
    ".docx": extract_docx,
    ".pptx": extract_pptx,
    ".odt": extract_odt,
    ".epub": extract_epub,
}


def extract(path: Path, limits: IngestLimits = DEFAULT_LIMITS) -> list[Section]:
    """Return the text of a document as one or more non-empty sections, in reading order.

    Raises:
        ExtractionError: see `extract_document`.
    """
    return extract_document(path, limits).sections


def extract_document(path: Path, limits: IngestLimits = DEFAULT_LIMITS) -> Extracted:
    """Read a document into non-empty sections in reading order, with notes for the user.

    Raises:
        ExtractionError: the file cannot be read, is of an unsupported kind, is damaged,
            encrypted, binary, holds no text, or is over a limit. The message names the file
            and the reason.
    """
    extractor = EXTRACTORS.get(path.suffix.lower())
    if extractor is None:
        kind = f"'{path.suffix}'" if path.suffix else "(no extension)"
        raise ExtractionError(f"{path}: unsupported file type {kind}")
    with os_errors_named(path):
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ExtractionError(f"{path}: is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise ExtractionError(f"{path}: not a regular file (a device, pipe or socket)")
        if info.st_size == 0:
            raise ExtractionError(f"{path}: empty file")
        if info.st_size > limits.max_file_bytes:
            raise ExtractionError(
                f"{path}: {info.st_size / 2**20:,.0f} MB is over the {limits.max_file_mb} MB "
                "file size limit set in Settings (max_file_mb)"
            )
        found = extractor(path, limits)
    extracted = found if isinstance(found, Extracted) else Extracted(found)
    extracted.sections = [s for s in extracted.sections if s.text.strip()]
    if not extracted.sections:
        raise ExtractionError(f"{path}: no text found (the file holds only whitespace or markup)")
    return extracted
