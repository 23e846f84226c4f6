"""Text out of PDF files with PDFium, one section per page, with the PDF's own page labels.

A page without a text layer but with something drawn on it (a scan, a photo of a page) is
never dropped silently: it is read by OCR when the user turned OCR on, and otherwise named
in a note beside the document.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from desktop.errors import ExtractionError
from desktop.ingest.limits import DEFAULT_LIMITS, IngestLimits
from desktop.ingest.text import clean_prose, dehyphenate
from desktop.ingest.types import Extracted, Section

log = logging.getLogger(__name__)

#: PDFium is not thread-safe, not even across documents: hold this around any use of it.
PDFIUM_LOCK = threading.Lock()

_LOAD_ERRORS = {
    pdfium_c.FPDF_ERR_PASSWORD: "the PDF is password-protected",
    pdfium_c.FPDF_ERR_SECURITY: "the PDF uses an unsupported encryption scheme",
}
_DAMAGED = "not a valid PDF (file is damaged or truncated)"


def extract_pdf(path: Path, limits: IngestLimits = DEFAULT_LIMITS) -> Extracted:
    """Return one section per page that has text, numbered from 1, and notes on scanned pages.

    Raises:
        ExtractionError: the file is not a PDF, is damaged, is encrypted, has no text at all
            (no text layer and OCR off), or holds more text than the text limit.
    """
    with PDFIUM_LOCK:
        return _extract(path, limits)


def _extract(path: Path, limits: IngestLimits) -> Extracted:
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
        reader = _PageReader(path, doc, limits)
        for index in range(page_count):
            reader.read(index)
    return reader.result(page_count)


class _PageReader:
    """Reads pages one by one, keeping count of what could not be read and why."""

    def __init__(self, path: Path, doc: pdfium.PdfDocument, limits: IngestLimits) -> None:
        self.path = path
        self.doc = doc
        self.limits = limits
        self.sections: list[Section] = []
        self.unreadable: list[int] = []
        self.scanned: list[int] = []
        self.ocr_pages: list[int] = []
        self.chars = 0
        self._ocr: object | None = None

    def read(self, index: int) -> None:
        number = index + 1
        try:
            page = self.doc[index]
        except pdfium.PdfiumError:
            log.warning("%s: page %d cannot be read; skipped", self.path, number)
            self.unreadable.append(number)
            return
        try:
            text = clean_prose(dehyphenate(_text_layer(page)))
            if not text and _draws_something(page):
                text = self._ocr_text(page, number)
        except pdfium.PdfiumError:
            log.warning("%s: page %d cannot be read; skipped", self.path, number)
            self.unreadable.append(number)
            return
        finally:
            page.close()
        if not text:
            return
        self.chars += len(text)
        self.limits.check_text_size(self.path, self.chars)
        label = _label(self.doc, index)
        self.sections.append(Section(text=text, page=number, heading=None, location=label))

    def _ocr_text(self, page: pdfium.PdfPage, number: int) -> str:
        """OCR a page with no text layer when OCR is on; else remember it as scanned."""
        if not self.limits.ocr:
            self.scanned.append(number)
            return ""
        from desktop.ingest import ocr

        if not ocr.available():
            self.scanned.append(number)
            return ""
        text = clean_prose(ocr.read_page(page))
        (self.ocr_pages if text else self.scanned).append(number)
        return text

    def result(self, page_count: int) -> Extracted:
        notes = []
        if self.ocr_pages:
            notes.append(f"read by OCR (no text layer): {_pages(self.ocr_pages)}")
        if self.scanned:
            notes.append(f"no text layer, not searchable (scanned?): {_pages(self.scanned)}")
        if self.unreadable:
            notes.append(f"damaged, skipped: {_pages(self.unreadable)}")
        if self.sections:
            return Extracted(self.sections, [_scan_hint(n, self.limits) for n in notes])
        if len(self.unreadable) == page_count:
            raise ExtractionError(f"{self.path}: {_DAMAGED}")
        if self.scanned:
            raise ExtractionError(
                f"{self.path}: no text layer on any of its {_count(page_count)} (a scan?); "
                + _ocr_advice(self.limits)
            )
        raise ExtractionError(f"{self.path}: no text found (every page is blank)")


def _text_layer(page: pdfium.PdfPage) -> str:
    """Return the raw text layer of one page, closing the text page it opens."""
    textpage = page.get_textpage()
    try:
        return str(textpage.get_text_range())
    finally:
        textpage.close()


def _draws_something(page: pdfium.PdfPage) -> bool:
    """Say whether a page has any content (an image, paths), i.e. is not simply blank."""
    return int(pdfium_c.FPDFPage_CountObjects(page.raw)) > 0


def _label(doc: pdfium.PdfDocument, index: int) -> str | None:
    """The PDF's own label for a page ("iv", "A-3"), or None where it is just the number."""
    try:
        label = doc.get_page_label(index)
    except pdfium.PdfiumError:
        return None
    label = " ".join(str(label or "").split())
    return label if label and label != str(index + 1) else None


def _pages(numbers: list[int]) -> str:
    """Page numbers as ranges: "page 3" or "pages 1-4, 7"."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    text = ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
    return ("page " if len(numbers) == 1 else "pages ") + text


def _count(pages: int) -> str:
    return "1 page" if pages == 1 else f"{pages:,} pages"


def _ocr_advice(limits: IngestLimits) -> str:
    from desktop.ingest import ocr

    if getattr(sys, "frozen", False) and not ocr.available():
        return (
            "this packaged Folio does not include OCR (install Folio from source with folio[ocr])"
        )
    if not limits.ocr:
        return "turn on OCR in Settings to read scans (needs the folio[ocr] extra)"
    if not ocr.available():
        return "OCR is on but not installed (pip install 'folio[ocr]')"
    return "OCR found no text on them"


def _scan_hint(note: str, limits: IngestLimits) -> str:
    if note.startswith("no text layer"):
        return f"{note}; {_ocr_advice(limits)}"
    return note
