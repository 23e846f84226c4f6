"""Readable text out of HTML pages, split into sections at h1-h6."""

from __future__ import annotations

import codecs
import logging
import re
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString

from desktop.errors import ExtractionError
from desktop.ingest.limits import DEFAULT_LIMITS, IngestLimits
from desktop.ingest.text import clean_prose, decode
from desktop.ingest.types import Section

log = logging.getLogger(__name__)

_DROP = frozenset(
    "script style nav noscript template svg head iframe object embed canvas select button".split()
)
_HEADINGS = frozenset(f"h{n}" for n in range(1, 7))
_LINE_BLOCKS = frozenset("li dt dd tr caption".split())
_BLOCKS = frozenset(
    "p div section article main header footer aside ul ol dl blockquote pre table thead tbody "
    "tfoot figure figcaption form fieldset address hr details summary body html".split()
)
_CELLS = frozenset(("td", "th"))
_BOM_STARTS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_WHITESPACE = re.compile(r"\s+")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


class _End:
    """Marks, on the walk's stack, the point where an element's children are done."""

    def __init__(self, separator: str, pre: bool) -> None:
        self.separator = separator
        self.pre = pre


def html_sections(data: bytes, path: Path, limits: IngestLimits = DEFAULT_LIMITS) -> list[Section]:
    """Return the visible text of an HTML page, a new section at each h1-h6.

    Scripts, styles, navigation and hidden elements are dropped; the page <title> is the
    heading of whatever comes before the first heading element.

    Raises:
        ExtractionError: the bytes are binary, cannot be parsed as HTML, or are over the
            text limit.
    """
    limits.check_text_size(path, len(data))
    markup = _decode_html(data, path)
    try:
        soup = BeautifulSoup(markup, "lxml")
    except Exception:  # html.parser gives up on some garbage; that is the file's fault
        log.debug("cannot parse %s as HTML", path, exc_info=True)
        raise ExtractionError(f"{path}: not a valid HTML file") from None
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if isinstance(title_tag, Tag) else ""
    return _walk(soup, title or None)


def _decode_html(data: bytes, path: Path) -> str:
    """Decode by BOM, else by the page's declared charset if the bytes fit it, else guess."""
    declared = None if data.startswith(_BOM_STARTS) else _CHARSET.search(data[:4096])
    if declared:
        try:
            encoding = codecs.lookup(declared.group(1).decode("ascii")).name
            if not encoding.startswith("utf-16"):  # a page really in UTF-16 has a BOM
                return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            pass
    return decode(data, path)


def _walk(soup: BeautifulSoup, heading: str | None) -> list[Section]:
    """Walk the tree in document order without recursion, cutting sections at headings."""
    sections: list[Section] = []
    parts: list[str] = []
    pre_depth = 0

    def flush() -> None:
        text = clean_prose("".join(parts))
        if text:
            sections.append(Section(text=text, page=None, heading=heading))
        parts.clear()

    stack: list[object] = list(reversed(soup.contents))
    while stack:
        node = stack.pop()
        if isinstance(node, _End):
            parts.append(node.separator)
            pre_depth -= node.pre
        elif isinstance(node, PreformattedString):
            continue  # comments, doctype, CDATA, processing instructions
        elif isinstance(node, NavigableString):
            parts.append(str(node) if pre_depth else _WHITESPACE.sub(" ", str(node)))
        elif isinstance(node, Tag):
            name = node.name.lower()
            if name in _DROP or _hidden(node):
                continue
            if name in _HEADINGS:
                text = " ".join(node.get_text(" ").split())
                if text:
                    flush()
                    heading = text
                continue
            if name == "br":
                parts.append("\n")
                continue
            before, after = _separators(name)
            parts.append(before)
            pre = name == "pre"
            pre_depth += pre
            stack.append(_End(after, pre))
            stack.extend(reversed(node.contents))
    flush()
    return sections


def _separators(name: str) -> tuple[str, str]:
    """Return what an element puts before and after its content."""
    if name in _BLOCKS:
        return "\n\n", "\n\n"
    if name in _LINE_BLOCKS:
        return "\n", ""  # list items and table rows: lines of one paragraph
    if name in _CELLS:
        return " | ", ""
    return "", ""


def _hidden(tag: Tag) -> bool:
    """Say whether the page marks an element as not shown."""
    return tag.has_attr("hidden") or tag.get("aria-hidden") == "true"
