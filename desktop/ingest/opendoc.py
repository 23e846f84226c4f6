"""Text out of OpenDocument text (.odt) files: content.xml read with lxml, split at headings.

No ODF library is needed for reading text (odfpy, the usual one, has had no release since
2020): content.xml is plain XML. lxml parses it with entities and network access off.
"""

from __future__ import annotations

import logging
from pathlib import Path

from lxml import etree

from desktop.errors import ExtractionError
from desktop.ingest.limits import DEFAULT_LIMITS, IngestLimits
from desktop.ingest.text import clean_prose
from desktop.ingest.types import Section
from desktop.ingest.zipguard import check_archive, read_member

log = logging.getLogger(__name__)

_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_H, _P = f"{{{_TEXT}}}h", f"{{{_TEXT}}}p"
_ROW, _CELL = f"{{{_TABLE}}}table-row", f"{{{_TABLE}}}table-cell"
_SPACE, _TAB, _BREAK = f"{{{_TEXT}}}s", f"{{{_TEXT}}}tab", f"{{{_TEXT}}}line-break"
# Footnote bodies and tracked deletions are not part of the running text.
_SKIP = frozenset({f"{{{_TEXT}}}note", f"{{{_TEXT}}}tracked-changes", f"{{{_OFFICE}}}annotation"})
_MAGIC_MIME = b"application/vnd.oasis.opendocument.text"


def safe_parser() -> etree.XMLParser:
    """An lxml parser that never expands entities, reads DTDs or touches the network."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def extract_odt(path: Path, limits: IngestLimits = DEFAULT_LIMITS) -> list[Section]:
    """Return the document's text as sections, a new one at each heading.

    Raises:
        ExtractionError: not a readable .odt, a part too big to expand, or too much text.
    """
    with check_archive(path, limits, "OpenDocument text") as archive:
        if "mimetype" in archive.namelist():
            mime = read_member(archive, "mimetype", path).strip()
            if mime and mime != _MAGIC_MIME:
                raise ExtractionError(
                    f"{path}: not an OpenDocument text ({mime.decode('ascii', 'replace')})"
                )
        data = read_member(archive, "content.xml", path)
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError:
        raise ExtractionError(f"{path}: the OpenDocument text is damaged (bad XML)") from None
    body = root.find(f"{{{_OFFICE}}}body")
    return _sections(body if body is not None else root, path, limits)


def _sections(body: etree._Element, path: Path, limits: IngestLimits) -> list[Section]:
    """Walk the body in order without recursion, cutting sections at headings."""
    sections: list[Section] = []
    heading: str | None = None
    parts: list[str] = []
    chars = 0

    def flush() -> None:
        text = clean_prose("\n\n".join(parts))
        if text:
            sections.append(Section(text, None, heading))
        parts.clear()

    stack = list(reversed(body))
    while stack:
        el = stack.pop()
        tag = el.tag
        if not isinstance(tag, str) or tag in _SKIP:
            continue
        if tag == _H:
            text = " ".join(_inline(el).split())
            if text:
                flush()
                heading = text
            continue
        if tag == _P:
            text = _inline(el)
        elif tag == _ROW:
            cells = [" ".join(_inline(c).split()) for c in el.iter(_CELL)]
            text = " | ".join(c for c in cells if c)
        else:
            stack.extend(reversed(el))
            continue
        if text.strip():
            chars += len(text)
            limits.check_text_size(path, chars)
            parts.append(text)
    flush()
    return sections


def _inline(el: etree._Element) -> str:
    """The text inside a paragraph or heading, with ODF's space, tab and break elements."""
    out: list[str] = []
    stack: list[etree._Element | str] = [el]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
            continue
        tag = node.tag
        if node is not el and isinstance(tag, str):
            if tag in _SKIP:
                if node.tail:
                    out.append(node.tail)
                continue
            if tag == _SPACE:
                out.append(" " * int(node.get(f"{{{_TEXT}}}c", "1") or 1))
            elif tag == _TAB:
                out.append("\t")
            elif tag == _BREAK:
                out.append("\n")
        if node.text and (node is el or not isinstance(tag, str) or tag not in _SKIP):
            out.append(node.text)
        if node is not el and node.tail:
            stack.append(node.tail)
        stack.extend(reversed(list(node)))
    return "".join(out)
