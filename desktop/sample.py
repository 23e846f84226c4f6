"""A small generated document folder with known facts at known places (tests, bench, selftest)."""

from __future__ import annotations

from pathlib import Path

# Facts with made-up names, so the model cannot know them and retrieval must find them.
PDF_PAGES = [
    "Quarterly operations report. This page introduces the northern site and its staff "
    "of forty engineers who maintain the pumping stations along the river.",
    "Energy figures. The Zorblax turbine at the northern site produced 42 megawatts at full "
    "load during the spring trials, well above the design target of 35 megawatts.",
    "Maintenance schedule. Bearings are replaced every eighteen months and the cooling "
    "loop is flushed each winter before the ice season begins.",
]


def write_pdf(path: Path, pages: list[str]) -> None:
    """Write a PDF with one page per string (fpdf2 draws real text, so it is extractable)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    pdf.output(str(path))


def make_corpus(root: Path, pdf: bool = True) -> Path:
    """Write the sample folder and return it. With `pdf=False` the report is written as
    Markdown instead, so fast tests need not import the PDF writer (about a second)."""
    docs = root / "project"
    (docs / "notes").mkdir(parents=True)
    if pdf:
        write_pdf(docs / "operations-report.pdf", PDF_PAGES)
    else:
        (docs / "operations-report.md").write_text("\n\n".join(PDF_PAGES) + "\n", encoding="utf-8")
    (docs / "notes" / "recipes.md").write_text(
        "# Kitchen notes\n\nThe office sourdough starter is named Gregory and is fed rye flour "
        "every Tuesday.\n\n## Coffee\n\nThe espresso machine needs descaling monthly.\n",
        encoding="utf-8",
    )
    (docs / "notes" / "travel.txt").write_text(
        "Travel policy: employees flying to Reykjavik must book through the Hvalur agency and "
        "keep receipts for the per diem of 80 euros.\n",
        encoding="utf-8",
    )
    (docs / "tool.py").write_text(
        'def frobnicate_widgets(count):\n    """Frobnicate widgets in batches of seven."""\n'
        "    return [count // 7] * 7\n",
        encoding="utf-8",
    )
    return docs


# Questions the sample folder answers (used by `folio bench` and `folio selftest`).
QUESTIONS = [
    "How many megawatts did the Zorblax turbine produce?",
    "What is the office sourdough starter called?",
    "Which agency must employees use when flying to Reykjavik?",
    "How often are the bearings replaced?",
]
