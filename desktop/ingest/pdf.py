"""Text out of PDF files with PDFium, one section per page."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from desktop.errors import ExtractionError
from desktop.ingest.text import clean_prose, dehyphenate
from desktop.ingest.types import Section

log = logging.getLogger(__name__)

#: PDFium is not thread-safe, not even across documents: hold this around any use of it.
PDFIUM_LOCK = threading.Lock()

_LOAD_ERRORS = {
    pdfium_c.FPDF_ERR_PASSWORD: "the PDF is password-protected",
    pdfium_c.FPDF_ERR_SECURITY: "the PDF uses an unsupported encryption scheme",
}
_DAMAGED = "not a valid PDF (file is damaged or truncated)"


def extract_pdf(path: Path) -> list[Section]:
    """Return one section per page that has text, numbered from 1.

    Raises:
        ExtractionError: the file is not a PDF, is damaged, is encrypted or has no text layer.
    """
    with PDFIUM_LOCK:
        return _extract(path)


def _extract(path: Path) -> list[Section]:
    """Do `extract_pdf`'s work; the caller holds PDFIUM_LOCK."""
    try:
        doc = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as e:
        reason = _LOAD_ERRORS.get(e.err_code, _DAMAGED)
        raise ExtractionError(f"{path}: {reason}") from None
    except OSError as e:
        raise ExtractionError(f"{path}: cannot be read ({e.strerror or e})") from None
    with doc:
        page_count = len(doc)
        if page_count == 0:
            raise ExtractionError(f"{path}: the PDF has no pages")
        sections: list[Section] = []
        unreadable = 0
        for index in range(page_count):
            try:
                raw = _page_text(doc, index)
            except pdfium.PdfiumError:
                log.warning("%s: page %d cannot be read; skipped", path, index + 1)
                unreadable += 1
                continue
            text = clean_prose(dehyphenate(raw))
            if text:
                sections.append(Section(text=text, page=index + 1, heading=None))
    if sections:
        return sections
    if unreadable == page_count:
        raise ExtractionError(f"{path}: {_DAMAGED}")
    raise ExtractionError(f"{path}: no extractable text (scanned images? OCR is not supported yet)")


def _page_text(doc: pdfium.PdfDocument, index: int) -> str:
    """Return the raw text layer of one page, closing the page objects it opens."""
    page = doc[index]
    try:
        textpage = page.get_textpage()
        try:
            return str(textpage.get_text_range())
        finally:
            textpage.close()
    finally:
        page.close()
