"""Text extraction on real files made here with fpdf2 and python-docx, good ones and bad ones."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from desktop.errors import ExtractionError
from desktop.ingest.extract import extract
from desktop.ingest.kinds import SUPPORTED_SUFFIXES
from desktop.ingest.text import dehyphenate
from desktop.ingest.types import Section, full_text

PAGE_TEXTS = (
    "Aardvarks dig burrows at night.",
    "Bicycles need oiled chains.",
    "Comets orbit the sun slowly.",
)


def _pdf(path: Path, pages: tuple[str, ...]) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(w=0, text=text)
    pdf.output(str(path))
    return path


# --- good files ---------------------------------------------------------------------------


def test_pdf_sections_carry_their_page_numbers(tmp_path: Path) -> None:
    sections = extract(_pdf(tmp_path / "three.pdf", PAGE_TEXTS))

    assert [s.page for s in sections] == [1, 2, 3]
    for section, expected in zip(sections, PAGE_TEXTS, strict=True):
        assert section.text == expected
        assert section.heading is None


def test_pdf_skips_blank_pages_but_keeps_numbering(tmp_path: Path) -> None:
    sections = extract(_pdf(tmp_path / "gap.pdf", ("First words.", "", "Third words.")))

    assert [(s.page, s.text) for s in sections] == [(1, "First words."), (3, "Third words.")]


def test_pdf_words_hyphenated_at_line_ends_are_joined(tmp_path: Path) -> None:
    sections = extract(_pdf(tmp_path / "hyphen.pdf", ("Global inter-\nnational trade.",)))

    assert sections[0].text == "Global international trade."


def test_dehyphenate_joins_only_words_broken_at_line_ends() -> None:
    raw = "exam-\nple, Jean-\nPaul, 3-\n4, Inter\ufffenational, North\ufffeEast, soft\xad\nware"

    assert dehyphenate(raw) == "example, Jean-\nPaul, 3-\n4, International, North-East, software"


def test_docx_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Preface before any heading.")
    document.add_heading("Introduction", level=1)
    document.add_paragraph("The   first   paragraph.")
    document.add_paragraph("The second paragraph.")
    document.add_heading("Results", level=2)
    table = document.add_table(rows=2, cols=2)
    for (row, col), text in {(0, 0): "Name", (0, 1): "Score", (1, 0): "Ada", (1, 1): "97"}.items():
        table.cell(row, col).text = text
    document.add_paragraph("After the table.")
    path = tmp_path / "report.docx"
    document.save(str(path))

    assert extract(path) == [
        Section("Preface before any heading.", None, None),
        Section("The first paragraph.\n\nThe second paragraph.", None, "Introduction"),
        Section("Name | Score\nAda | 97\n\nAfter the table.", None, "Results"),
    ]


def test_html_drops_scripts_styles_and_navigation(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<!DOCTYPE html><html><head><title>My Page</title><style>p {color: red}</style>"
        "<script>var secret = 1;</script></head><body><nav><a href='/'>Home</a></nav>"
        "<p>Opening <b>words</b>.</p><!-- a comment -->"
        "<h1>Chapter One</h1><p>First   para.</p><ul><li>apple</li><li>pear</li></ul>"
        "<h2>Chapter <i>Two</i></h2><p>Line<br>break</p><div hidden>invisible</div>"
        "</body></html>",
        encoding="utf-8",
    )

    assert extract(path) == [
        Section("Opening words.", None, "My Page"),
        Section("First para.\n\napple\npear", None, "Chapter One"),
        Section("Line\nbreak", None, "Chapter Two"),
    ]


def test_html_declared_charset_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "legacy.htm"
    path.write_bytes(
        b'<html><head><meta charset="iso-8859-1"></head><body><p>Caf\xe9</p></body></html>'
    )

    assert extract(path)[0].text == "Café"


def test_markdown_splits_at_headings_and_reads_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text(
        "---\ntitle: 'Field Notes'\ntags: [a, b]\n---\n"
        "Intro   text.\n\n"
        "# Setup *guide*\n\nInstall it.\n\n```sh\n# not a heading\necho hi\n```\n\n"
        "Usage\n-----\n\nRun it.\n\n## Closing ##\n\nBye.\n",
        encoding="utf-8",
    )

    sections = extract(path)

    assert [(s.heading, s.text) for s in sections] == [
        ("Field Notes", "Intro text."),
        ("Setup guide", "Install it.\n\n```sh\n# not a heading\necho hi\n```"),
        ("Usage", "Run it."),
        ("Closing", "Bye."),
    ]
    assert all(s.page is None for s in sections)


def test_markdown_opening_rule_is_not_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "rules.md"
    path.write_text("---\nJust an opening line.\n---\n\nMore text.\n", encoding="utf-8")

    assert [s.text for s in extract(path)] == ["Just an opening line.\n\nMore text."]


def test_rst_titles_become_headings(tmp_path: Path) -> None:
    path = tmp_path / "guide.rst"
    path.write_text(
        "=====\nGuide\n=====\n\nWelcome.\n\nInstalling\n----------\n\nUse pip.\n\n----\n\nMore.\n",
        encoding="utf-8",
    )

    assert [(s.heading, s.text) for s in extract(path)] == [
        ("Guide", "Welcome."),
        ("Installing", "Use pip.\n\nMore."),
    ]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("utf16.txt", "Grüße aus Köln\r\nZeile 2".encode("utf-16"), "Grüße aus Köln\nZeile 2"),
        ("utf16-nobom.txt", "plain words here".encode("utf-16-le"), "plain words here"),
        ("cp1252.txt", "Café “quoted” costs €5".encode("cp1252"), "Café “quoted” costs €5"),
        ("bom.txt", "\ufeffhello world".encode(), "hello world"),
        ("latin.txt", b"na\xefve \x81 r\xe9sum\xe9", "naïve résumé"),
    ],
)
def test_text_encodings_are_decoded(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)

    assert extract(path) == [Section(expected, None, None)]


def test_prose_whitespace_is_normalised(tmp_path: Path) -> None:
    path = tmp_path / "messy.txt"
    path.write_bytes(b"  one   two\x07 three \r\n\r\n\r\n\r\nfour\x0cfive\xc2\xa0six\n")

    [section] = extract(path)
    assert section.text == "  one two three\n\nfour\nfive six"
    assert section.page is None


def test_source_code_keeps_its_indentation(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text("def f(x):\n    if x:\n        return  1   \n\n\n\n\nclass A:\n    pass\n")

    assert extract(path) == [
        Section("def f(x):\n    if x:\n        return  1\n\nclass A:\n    pass", None, None)
    ]


def test_supported_suffixes_cover_the_documented_kinds() -> None:
    expected = {".txt", ".md", ".markdown", ".rst", ".pdf", ".docx", ".html", ".htm", ".py"}
    expected |= {".ts", ".go", ".rs", ".json", ".yaml", ".toml", ".sql", ".csv", ".tsv", ".lua"}
    assert expected <= SUPPORTED_SUFFIXES
    assert ".doc" not in SUPPORTED_SUFFIXES and ".png" not in SUPPORTED_SUFFIXES


def test_suffix_match_ignores_case(tmp_path: Path) -> None:
    path = tmp_path / "LOUD.TXT"
    path.write_text("quiet words")

    assert extract(path)[0].text == "quiet words"


def test_full_text_joins_sections_with_a_blank_line() -> None:
    sections = [Section("a", 1, None), Section("b c", 2, "H")]
    assert full_text(sections) == "a\n\nb c"


# --- bad files ----------------------------------------------------------------------------


def _truncated_pdf(path: Path) -> None:
    whole = _pdf(path.with_name("whole.pdf"), PAGE_TEXTS).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])


def _encrypted_pdf(path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(text="Top secret words.")
    pdf.set_encryption(owner_password="owner", user_password="user")
    pdf.output(str(path))


def _imageonly_pdf(path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(x=20, y=20, w=100, h=60, style="F")
    pdf.output(str(path))


def _junk_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("junk.bin", b"\x00\x01 not a word document")


BAD_FILES = {
    "truncated.pdf": (_truncated_pdf, "not a valid PDF (file is damaged or truncated)"),
    "garbage.pdf": (
        lambda p: p.write_bytes(b"%PDF-1.7\n this is not really a pdf \x00\xff"),
        "not a valid PDF (file is damaged or truncated)",
    ),
    "report.pdf": (_encrypted_pdf, "the PDF is password-protected"),
    "scan.pdf": (_imageonly_pdf, "no text layer on any of its 1 page (a scan?); turn on OCR"),
    "empty.txt": (lambda p: p.write_bytes(b""), "empty file"),
    "blank.md": (lambda p: p.write_text("   \n\n\t\n"), "no text found"),
    "junk.txt": (
        lambda p: p.write_bytes(bytes(range(256)) * 8),
        "looks binary",
    ),
    "controls.txt": (lambda p: p.write_bytes(bytes(range(1, 32)) * 40), "looks binary"),
    "a.docx": (_junk_zip, "not a valid Word document"),
    "plain.docx": (lambda p: p.write_text("just some text"), "not a valid Word document"),
    "old.docx": (
        lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600),
        "password-protected or in the old .doc format",
    ),
    "picture.png": (lambda p: p.write_bytes(b"\x89PNG\r\n"), "unsupported file type '.png'"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_raise_a_specific_error_naming_the_file(tmp_path: Path, name: str) -> None:
    make, reason = BAD_FILES[name]
    path = tmp_path / name
    make(path)

    with pytest.raises(ExtractionError) as caught:
        extract(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert reason in message


def test_missing_file_is_an_extraction_error(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="gone.txt: file not found"):
        extract(tmp_path / "gone.txt")


def test_folder_is_an_extraction_error(tmp_path: Path) -> None:
    folder = tmp_path / "looks.txt"
    folder.mkdir()
    with pytest.raises(ExtractionError, match="looks.txt: is a folder"):
        extract(folder)


def test_plain_text_title_becomes_heading_without_losing_text(tmp_path: Path) -> None:
    titled = tmp_path / "paper.txt"
    titled.write_text("Effects of aspirin on sleep.\n\nWe studied 40 adults.\n", encoding="utf-8")
    [section] = extract(titled)
    assert section.heading == "Effects of aspirin on sleep."
    assert section.text.startswith("Effects of aspirin on sleep.")  # nothing removed
    prose = tmp_path / "prose.txt"
    prose.write_text("A first paragraph\nthat spans lines.\n\nMore.\n", encoding="utf-8")
    assert extract(prose)[0].heading is None
    single = tmp_path / "single.txt"
    single.write_text("Only one line here.\n", encoding="utf-8")
    assert extract(single)[0].heading is None
