"""Each document format read from a real file written by that format's own tools."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest
import xlsxwriter
from fpdf import FPDF
from pptx import Presentation
from pptx.util import Inches

from desktop.errors import ExtractionError
from desktop.ingest import kinds
from desktop.ingest.extract import EXTRACTORS, extract, extract_document
from desktop.ingest.limits import IngestLimits


def test_every_listed_suffix_has_a_reader() -> None:
    assert frozenset(EXTRACTORS) == kinds.SUPPORTED_SUFFIXES


def test_pptx_slides_are_pages_titled_by_the_slide_title(tmp_path: Path) -> None:
    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Quarterly results"
    first.placeholders[1].text = "Revenue rose to 12 million kroner."
    first.notes_slide.notes_text_frame.text = "Mention the Bergen office."
    deck.slides.add_slide(deck.slide_layouts[6])  # a blank slide: no section
    third = deck.slides.add_slide(deck.slide_layouts[5])
    third.shapes.title.text = "Staff"
    table = third.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (r, c), text in {(0, 0): "Team", (0, 1): "People", (1, 0): "Pumps", (1, 1): "40"}.items():
        table.cell(r, c).text = text
    path = tmp_path / "deck.pptx"
    deck.save(str(path))

    sections = extract(path)

    assert [(s.page, s.heading, s.location) for s in sections] == [
        (1, "Quarterly results", "slide 1"),
        (3, "Staff", "slide 3"),
    ]
    assert "12 million kroner" in sections[0].text
    assert "Notes: Mention the Bergen office." in sections[0].text
    assert "Team | People\nPumps | 40" in sections[1].text


def test_xlsx_rows_come_by_sheet_and_row_range_with_the_header(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sales = book.add_worksheet("Sales")
    sales.write_row(0, 0, ["Region", "Units", "Note"])
    for i in range(1, 60):
        sales.write_row(i, 0, [f"Region {i}", i * 10, "steady growth in the quarter"])
    staff = book.add_worksheet("Staff")
    staff.write_row(0, 0, ["Name", "Role"])
    staff.write_row(1, 0, ["Ingrid", "Engineer"])
    book.close()

    sections = extract(path)

    assert {s.heading for s in sections} == {"Sales", "Staff"}
    sales_blocks = [s for s in sections if s.heading == "Sales"]
    assert len(sales_blocks) > 1
    assert sales_blocks[0].location == f"Sales, rows 2-{sales_blocks[0].location.split('-')[-1]}"
    assert all(s.text.startswith("Region | Units | Note\n") for s in sales_blocks)
    assert "Region 7 | 70 | steady growth" in "\n".join(s.text for s in sales_blocks)
    last = sales_blocks[-1].location
    assert last is not None and last.endswith("-60")
    assert [s.location for s in sections if s.heading == "Staff"] == ["Staff, row 2"]


def test_csv_and_tsv_by_row_range(tmp_path: Path) -> None:
    csv_path = tmp_path / "people.csv"
    csv_path.write_text("name;city\nAsta;Oslo\nBo;Malmö\n", encoding="utf-8")
    tsv_path = tmp_path / "t.tsv"
    tsv_path.write_text("a\tb\n1\t2\n", encoding="utf-8")

    [people] = extract(csv_path)
    [tsv] = extract(tsv_path)

    assert people.text == "name | city\nAsta | Oslo\nBo | Malmö"
    assert people.location == "rows 2-3"
    assert tsv.text == "a | b\n1 | 2"


def _odt(path: Path, body: str) -> None:
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
        ' xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0">'
        f"<office:body><office:text>{body}</office:text></office:body>"
        "</office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        z.writestr("content.xml", content)


def test_odt_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    path = tmp_path / "notes.odt"
    _odt(
        path,
        "<text:p>Intro words.</text:p>"
        '<text:h text:outline-level="1">Pumps</text:h>'
        '<text:p>The pump<text:s text:c="2"/>runs <text:span>daily</text:span>.'
        "<text:note><text:note-body><text:p>a footnote</text:p></text:note-body></text:note>"
        "</text:p>"
        "<table:table><table:table-row><table:table-cell><text:p>Model</text:p>"
        "</table:table-cell><table:table-cell><text:p>X7</text:p></table:table-cell>"
        "</table:table-row></table:table>",
    )

    sections = extract(path)

    assert [(s.heading, s.text) for s in sections] == [
        (None, "Intro words."),
        ("Pumps", "The pump runs daily.\n\nModel | X7"),
    ]


def _epub(path: Path, chapters: dict[str, str], titles: dict[str, str]) -> None:
    manifest = "".join(
        f'<item id="c{i}" href="{name}" media-type="application/xhtml+xml"/>'
        for i, name in enumerate(chapters)
    )
    spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
    nav_links = "".join(f'<li><a href="{n}">{t}</a></li>' for n, t in titles.items())
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:'
            'container" version="1.0"><rootfiles><rootfile full-path="OEBPS/book.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>',
        )
        z.writestr(
            "OEBPS/book.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            f'<manifest>{manifest}<item id="nav" href="nav.xhtml" properties="nav" '
            'media-type="application/xhtml+xml"/></manifest>'
            f"<spine>{spine}</spine></package>",
        )
        z.writestr(
            "OEBPS/nav.xhtml",
            f'<html xmlns="http://www.w3.org/1999/xhtml"><body><nav><ol>{nav_links}</ol></nav>'
            "</body></html>",
        )
        for name, html in chapters.items():
            z.writestr(f"OEBPS/{name}", html)


def test_epub_chapters_in_spine_order_with_toc_titles(tmp_path: Path) -> None:
    path = tmp_path / "book.epub"
    _epub(
        path,
        {
            "one.xhtml": "<html><body><p>It was a cold morning in Tromsø.</p></body></html>",
            "two.xhtml": "<html><body><h2>Later</h2><p>The ferry left at noon.</p></body></html>",
        },
        {"one.xhtml": "Chapter One: Arrival"},
    )

    sections = extract(path)

    assert [(s.heading, s.location) for s in sections] == [
        ("Chapter One: Arrival", "chapter 1"),
        ("Later", "chapter 2"),
    ]
    assert "ferry left at noon" in sections[1].text


def test_pdf_page_labels_and_scanned_pages_are_reported(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Preface words about the survey.")
    pdf.add_page()
    pdf.rect(x=20, y=20, w=100, h=60, style="F")  # drawn, no text: a scan-like page
    pdf.add_page()
    pdf.multi_cell(0, 8, "Chapter one begins here.")
    path = tmp_path / "labelled.pdf"
    pdf.output(str(path))
    _add_page_labels(path)

    extracted = extract_document(path)

    assert [(s.page, s.location) for s in extracted.sections] == [(1, "i"), (3, None)]
    assert extracted.notes == [
        "no text layer, not searchable (scanned?): page 2; turn on OCR in Settings to read "
        "scans (needs the folio[ocr] extra)"
    ]


def _add_page_labels(path: Path) -> None:
    """Give the first two pages roman labels (i, ii) and the rest numbers from 3."""
    import pypdfium2 as pdfium

    data = path.read_bytes()
    root = data.rindex(b"/Type /Catalog")
    labels = b"/PageLabels << /Nums [0 << /S /r >> 2 << /S /D /St 3 >> ] >> "
    patched = data[:root] + labels + data[root:]
    # Offsets after the insertion moved: let PDFium's repair pass rebuild the xref table.
    path.write_bytes(patched)
    with pdfium.PdfDocument(path) as doc:
        assert doc.get_page_label(0) == "i", "the test PDF did not take its page labels"


def test_a_docx_bomb_is_refused_by_its_declared_size(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    template = tmp_path / "real.docx"
    document = docx.Document()
    document.add_paragraph("hello")
    document.save(str(template))
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            if item.filename == "word/document.xml":
                out.writestr(item.filename, b"<w:t>" + b"a" * (200 * 2**20) + b"</w:t>")
            else:
                out.writestr(item, src.read(item.filename))

    with pytest.raises(ExtractionError, match=r"word/document.xml would expand to 200 MB"):
        extract(path, IngestLimits(max_text_mb=10))


def test_a_text_file_over_the_text_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    path.write_bytes(b"x" * (2 * 2**20 + 10))

    with pytest.raises(ExtractionError, match="over 1 MB of text, the text limit set in Settings"):
        extract(path, IngestLimits(max_text_mb=1))


def test_ocr_reads_a_scanned_page_only_when_turned_on(tmp_path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    from desktop.ingest import ocr

    assert ocr.available(), "the OCR extra is part of the dev install: folio[ocr]"
    image = Image.new("RGB", (1200, 300), "white")
    ImageDraw.Draw(image).text(
        (60, 100),
        "The Zorblax turbine made 42 MW.",
        fill="black",
        font=ImageFont.load_default(size=48),
    )
    pdf = FPDF()
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=190)
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))

    with pytest.raises(ExtractionError, match="turn on OCR in Settings"):
        extract(path)  # off by default
    extracted = extract_document(path, IngestLimits(ocr=True))

    assert [s.text for s in extracted.sections] == ["The Zorblax turbine made 42 MW."]
    assert extracted.notes == ["read by OCR (no text layer): page 1"]
