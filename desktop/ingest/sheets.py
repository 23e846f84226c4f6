"""Spreadsheets and delimited text, by sheet and row range.

Workbooks (.xlsx, .xlsm, .xls, .ods) are read with python-calamine (MIT, Rust's calamine:
fast, and it reads all four); .csv and .tsv with the standard library. Rows are grouped into
blocks small enough for one chunk each; every block repeats the sheet's header row and is
headed by the sheet's name, and its location says which rows it holds ("Sales, rows 2-31"),
so an answer cites the sheet and rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from desktop.errors import ExtractionError
from desktop.ingest.limits import DEFAULT_LIMITS, IngestLimits
from desktop.ingest.text import decode, read_bytes
from desktop.ingest.types import Section
from desktop.ingest.zipguard import check_archive

log = logging.getLogger(__name__)

# Characters of rows per block: about one chunk of the default size, header included.
BLOCK_CHARS = 600
_ZIP_BASED = frozenset({".xlsx", ".xlsm", ".ods"})


def extract_workbook(path: Path, limits: IngestLimits = DEFAULT_LIMITS) -> list[Section]:
    """Return each sheet's rows in blocks, headed by the sheet name, located by row range.

    Raises:
        ExtractionError: not a readable workbook, protected, too big to expand, or too much text.
    """
    if path.suffix.lower() in _ZIP_BASED:
        check_archive(path, limits, "spreadsheet").close()
    from python_calamine import CalamineWorkbook, PasswordError

    try:
        book = CalamineWorkbook.from_path(str(path))
    except PasswordError:
        raise ExtractionError(f"{path}: the spreadsheet is password-protected") from None
    except Exception:  # calamine raises its own zip/XML errors (and panics) on a bad file
        log.debug("calamine could not open %s", path, exc_info=True)
        raise ExtractionError(f"{path}: not a valid spreadsheet") from None
    budget = _Budget(path, limits)
    sections: list[Section] = []
    try:
        for name in book.sheet_names:
            sheet = book.get_sheet_by_name(name)
            sections += row_blocks(name, sheet.iter_rows(), budget)
    except ExtractionError:
        raise
    except Exception:
        log.debug("calamine failed while reading %s", path, exc_info=True)
        raise ExtractionError(f"{path}: the spreadsheet is damaged") from None
    finally:
        book.close()
    return sections


def extract_delimited(path: Path, limits: IngestLimits = DEFAULT_LIMITS) -> list[Section]:
    """Return a .csv or .tsv file's rows in blocks, located by row range.

    Raises:
        ExtractionError: unreadable, binary, or more text than the text limit.
    """
    limits.check_text_size(path, _size(path))
    text = decode(read_bytes(path), path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff(text)
    rows = csv.reader(text.splitlines(), delimiter=delimiter)
    return row_blocks(path.stem, rows, _Budget(path, limits), name_in_location=False)


def row_blocks(
    sheet: str,
    rows: Iterable[Sequence[object]],
    budget: _Budget,
    *,
    name_in_location: bool = True,
) -> list[Section]:
    """Group rows into blocks of about BLOCK_CHARS, each repeating the header row."""
    sections: list[Section] = []
    header: str | None = None
    block: list[str] = []
    first = last = 0

    def flush() -> None:
        if not block:
            return
        span = f"row {first}" if first == last else f"rows {first}-{last}"
        location = f"{sheet}, {span}" if name_in_location else span
        lines = ([header] if header else []) + block
        sections.append(Section("\n".join(lines), None, sheet, location))
        block.clear()

    for number, row in enumerate(rows, start=1):
        line = " | ".join(c for c in (_cell(v) for v in row) if c)
        if not line:
            continue
        budget.spend(len(line) + 1)
        if header is None:
            header = line
            continue
        if block and sum(map(len, block)) + len(line) > BLOCK_CHARS:
            flush()
        if not block:
            first = number
        block.append(line)
        last = number
    if header is not None and not sections and not block:
        block, first, last = [header], 1, 1  # a sheet with one row: that row is the content
        header = None
    flush()
    return sections


class _Budget:
    """The text limit for one file, spent row by row."""

    def __init__(self, path: Path, limits: IngestLimits) -> None:
        self.path = path
        self.limits = limits
        self.chars = 0

    def spend(self, chars: int) -> None:
        self.chars += chars
        self.limits.check_text_size(self.path, self.chars)


def _cell(value: object) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return " ".join(str(value).split())


def _sniff(text: str) -> str:
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _rows(lines: Iterator[str], delimiter: str) -> Iterator[list[str]]:
    yield from csv.reader(lines, delimiter=delimiter)
