"""Reading raw bytes into clean text: decoding guesses, binary sniffing, whitespace rules."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from desktop.errors import ExtractionError

# Longest BOMs first: the UTF-32-LE mark starts with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SNIFF_BYTES = 8192
# Share of control characters above which decoded "text" is really binary data.
_MAX_CONTROL_SHARE = 0.05

_NEWLINES = re.compile(r"\r\n?|[\f\v\x1c-\x1e\x85\u2028]")
_PARAGRAPH_SEPARATOR = re.compile(r"\u2029")
_SPACES = re.compile(r"[\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# C0/C1 controls (tab and newline kept), zero-width marks, BOMs and non-characters.
_JUNK = re.compile(
    r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f"  # controls
    r"\u00ad\u200b\u2060\ufeff\ufffe\uffff]"  # soft hyphen, zero-width marks, non-characters
)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_RUNS = re.compile(r"[ \t]+")
_INNER_RUNS = re.compile(r"(?<=\S)[ \t]{2,}")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)
_EDGE_SPACES = re.compile(r" ?\n ?")
_BLANK_RUNS = re.compile(r"\n{3,}")
# A word broken across lines: "exam-\nple". A soft hyphen, or the \ufffe/\x02 PDFium puts where
# a line ended in a hyphen, joins a word going on in lower case; before a capital it stays a
# hyphen. A plain hyphen only ever joins lower case, so "Jean-\nPaul" keeps its hyphen.
_SOFT_BREAK = re.compile(r"(?<=[^\W\d_])[\u00ad\x02\ufffe][ \t]*(?:\r?\n[ \t]*)?(?=([^\W\d_]))")
_HARD_BREAK = re.compile(r"(?<=[^\W\d_])-[ \t]*\r?\n[ \t]*(?=([^\W\d_]))")


@contextmanager
def os_errors_named(path: Path) -> Iterator[None]:
    """Turn OS errors raised while reading `path` into an ExtractionError naming the file."""
    try:
        yield
    except FileNotFoundError:
        raise ExtractionError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ExtractionError(f"{path}: is a folder, not a file") from None
    except PermissionError:
        raise ExtractionError(f"{path}: permission denied") from None
    except OSError as e:
        raise ExtractionError(f"{path}: cannot be read ({e.strerror or e})") from None


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """Read a whole file, turning OS errors into an ExtractionError that names the file.

    Args:
        limit: refuse a file longer than this many bytes, reading no more than one byte past
            it (the file may grow between a size check and the read).
    """
    with os_errors_named(path), path.open("rb") as f:
        data = f.read() if limit is None else f.read(limit + 1)
    if not data:
        raise ExtractionError(f"{path}: empty file")
    if limit is not None and len(data) > limit:
        raise ExtractionError(
            f"{path}: over {limit / 2**20:,.0f} MB of text, the text limit set in Settings "
            "(max_text_mb); raise it to index this file"
        )
    return data


def decode(data: bytes, path: Path) -> str:
    """Decode bytes of a text file: BOM, then UTF-8, then Windows-1252; refuse binary data.

    Raises:
        ExtractionError: the bytes look like a binary file rather than text.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    if b"\x00" in data:
        text = _decode_utf16_without_bom(data)
        if text is None:
            raise ExtractionError(f"{path}: looks binary (contains NUL bytes), not a text file")
        return text
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_legacy(data)
    sample = text[:_SNIFF_BYTES]
    if len(_CONTROL.findall(sample)) > _MAX_CONTROL_SHARE * len(sample):
        raise ExtractionError(f"{path}: looks binary (control characters), not a text file")
    return text


def _decode_utf16_without_bom(data: bytes) -> str | None:
    """Return the text if NUL bytes sit where UTF-16 puts them for mostly-ASCII text."""
    sample = data[:_SNIFF_BYTES]
    half = len(sample) // 2
    if half == 0:
        return None
    even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
    if odd_nuls > 0.3 * half and even_nuls < 0.02 * half:
        encoding = "utf-16-le"
    elif even_nuls > 0.3 * half and odd_nuls < 0.02 * half:
        encoding = "utf-16-be"
    else:
        return None
    text = data[: len(data) - len(data) % 2].decode(encoding, errors="replace")
    head = text[: _SNIFF_BYTES // 2]
    bad = len(_CONTROL.findall(head)) + head.count("\ufffd")
    return text if bad <= _MAX_CONTROL_SHARE * len(head) else None


def _decode_legacy(data: bytes) -> str:
    """Decode bytes that are not valid UTF-8: mostly-UTF-8 with a few bad bytes, else cp1252."""
    lenient = data.decode("utf-8", errors="replace")
    bad = lenient.count("\ufffd")
    multibyte = sum(1 for ch in lenient if ord(ch) > 127) - bad
    if multibyte > 4 * bad:
        return lenient
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        # The five bytes cp1252 leaves undefined; Latin-1 maps every byte.
        return data.decode("latin-1")


def _basic(text: str) -> str:
    """Unify newlines and spaces and drop invisible junk characters."""
    text = _NEWLINES.sub("\n", text)
    text = _PARAGRAPH_SEPARATOR.sub("\n\n", text)
    text = _SPACES.sub(" ", text)
    return _JUNK.sub("", text)


def clean_prose(text: str) -> str:
    """Normalise extracted prose: one space between words, lines trimmed, one blank line max."""
    text = _RUNS.sub(" ", _basic(text))
    text = _EDGE_SPACES.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def clean_plain(text: str) -> str:
    """Normalise a plain or markup text file: like prose, but keep each line's indentation."""
    text = _TRAILING.sub("", _basic(text))
    text = _INNER_RUNS.sub(" ", text)
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def clean_code(text: str) -> str:
    """Normalise source code or data: keep every space but trim lines and blank-line runs."""
    text = _TRAILING.sub("", _basic(text))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def dehyphenate(text: str) -> str:
    """Join words a PDF broke across lines with a hyphen ("exam-\\nple" -> "example")."""
    text = _SOFT_BREAK.sub(lambda m: "" if m.group(1).islower() else "-", text)
    return _HARD_BREAK.sub(lambda m: "" if m.group(1).islower() else m.group(0), text)


# A first line longer than this reads as prose, not as a title.
_MAX_TITLE_CHARS = 250


def plain_title(text: str) -> str | None:
    """The title of a plain text file: a lone first line followed by a blank line and more text.

    The text keeps the line (nothing is removed from passages); the title becomes the
    section's heading, so every chunk of the file is searchable and embedded with it; the
    answer path reads a passage's title line with it too (`desktop.rag.grounding`).
    """
    head, sep, rest = text.strip().partition("\n\n")
    if not sep or not rest.strip() or "\n" in head:
        return None
    head = head.strip()
    return head if 0 < len(head) <= _MAX_TITLE_CHARS else None
