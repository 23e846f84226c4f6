"""Text out of Word (.docx) files: paragraphs and tables in order, split at headings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from desktop.errors import ExtractionError
from desktop.ingest.limits import DEFAULT_LIMITS, IngestLimits
from desktop.ingest.text import clean_prose
from desktop.ingest.types import Section
from desktop.ingest.zipguard import check_archive

log = logging.getLogger(__name__)

# Word saves password-protected .docx files (and old .doc files) as OLE compound files.
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def extract_docx(path: Path, limits: IngestLimits = DEFAULT_LIMITS) -> list[Section]:
    """Return the document's text as sections, a new one at each Heading or Title paragraph.

    Raises:
        ExtractionError: the file is not a readable .docx (damaged, encrypted, or really a
            .doc), a part of it would expand past the limits, or its text is over the limit.
    """
    with path.open("rb") as f:
        magic = f.read(len(_OLE_MAGIC))
    if magic == _OLE_MAGIC:
        raise ExtractionError(
            f"{path}: the Word document is password-protected or in the old .doc format "
            "(save it as an unprotected .docx)"
        )
    check_archive(path, limits, "Word document").close()
    # python-docx raises whatever its zip and XML layers raise on a bad file (BadZipFile,
    # KeyError, lxml errors...), so everything here is the file's fault, not ours.
    try:
        document = docx.Document(str(path))
    except Exception:
        log.debug("python-docx could not open %s", path, exc_info=True)
        raise ExtractionError(f"{path}: not a valid Word document") from None
    try:
        sections = []
        chars = 0
        for section in _sections(document.iter_inner_content()):
            chars += len(section.text)
            limits.check_text_size(path, chars)
            sections.append(section)
        return sections
    except ExtractionError:
        raise
    except Exception:
        log.debug("python-docx failed while reading %s", path, exc_info=True)
        raise ExtractionError(f"{path}: the Word document is damaged") from None


def _sections(blocks: Iterator[Paragraph | Table]) -> Iterator[Section]:
    """Group body paragraphs and tables under the heading above them."""
    heading: str | None = None
    texts: list[str] = []
    for block in blocks:
        if isinstance(block, Table):
            text = _table_text(block)
        else:
            text = clean_prose(block.text)
            if text and _is_heading(block):
                if texts:
                    yield Section(text="\n\n".join(texts), page=None, heading=heading)
                heading, texts = " ".join(text.split()), []
                continue
        if text:
            texts.append(text)
    if texts:
        yield Section(text="\n\n".join(texts), page=None, heading=heading)


def _is_heading(paragraph: Paragraph) -> bool:
    """Say whether a paragraph uses a built-in heading style ("Heading 1".."Heading 9", "Title")."""
    style = paragraph.style
    name = (style.name or "").lower() if style is not None else ""
    return name == "title" or name.startswith("heading")


def _table_text(table: Table) -> str:
    """Render a table as one line per row, cells separated by " | " (merged cells once)."""
    lines = []
    for row in table.rows:
        seen: set[int] = set()
        cells = []
        for cell in row.cells:
            # A merged cell comes back once per grid column it spans.
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(clean_prose(cell.text).split())
            if text:
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)
