"""Text out of EPUB books: the spine's XHTML chapters in reading order, one per location.

No EPUB library: the usual one (EbookLib) is AGPL. An EPUB is a zip with an OPF package
file naming the chapters in order; each chapter is XHTML, read by Folio's HTML reader.
Chapter titles come from the book's table of contents where it names the file.
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote

from lxml import etree

from desktop.errors import ExtractionError
from desktop.ingest.html_text import html_sections
from desktop.ingest.limits import DEFAULT_LIMITS, IngestLimits
from desktop.ingest.opendoc import safe_parser
from desktop.ingest.types import Section
from desktop.ingest.zipguard import check_archive, read_member

_CONTAINER = "META-INF/container.xml"
_XHTML_TYPES = frozenset({"application/xhtml+xml", "text/html"})


def extract_epub(path: Path, limits: IngestLimits = DEFAULT_LIMITS) -> list[Section]:
    """Return the book's chapters in reading order, located as "chapter N" and headed by the
    chapter's title (or its own headings).

    Raises:
        ExtractionError: not a readable EPUB, DRM-protected, too big to expand, or too much text.
    """
    with check_archive(path, limits, "EPUB book") as archive:
        names = set(archive.namelist())
        if "META-INF/encryption.xml" in names and _encrypted_content(archive, path):
            raise ExtractionError(f"{path}: the EPUB book is DRM-protected (encrypted chapters)")
        opf_path = _package_path(archive, path)
        opf = _xml(read_member(archive, opf_path, path), path, opf_path)
        base = posixpath.dirname(opf_path)
        chapters, toc = _spine(opf, base)
        titles = _toc_titles(archive, toc, path) if toc else {}
        sections: list[Section] = []
        chars = 0
        number = 0
        for name in chapters:
            if name not in names:
                continue
            data = read_member(archive, name, path)
            found = html_sections(data, path, limits)
            if not found:
                continue
            number += 1
            title = titles.get(name)
            for s in found:
                chars += len(s.text)
                limits.check_text_size(path, chars)
                sections.append(Section(s.text, None, s.heading or title, f"chapter {number}"))
    if not sections and not chapters:
        raise ExtractionError(f"{path}: the EPUB book lists no chapters (damaged?)")
    return sections


def _xml(data: bytes, path: Path, name: str) -> etree._Element:
    try:
        return etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError:
        raise ExtractionError(f"{path}: the EPUB book is damaged ({name} is not XML)") from None


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _package_path(archive: zipfile.ZipFile, path: Path) -> str:
    """The OPF package file named by META-INF/container.xml."""
    container = _xml(read_member(archive, _CONTAINER, path), path, _CONTAINER)
    for el in container.iter():
        if _local(el.tag) == "rootfile" and el.get("full-path"):
            return str(el.get("full-path"))
    raise ExtractionError(f"{path}: the EPUB book is damaged (no package file)")


def _spine(opf: etree._Element, base: str) -> tuple[list[str], str | None]:
    """The chapter files in reading order, and the table of contents file if any."""
    manifest: dict[str, tuple[str, str, str]] = {}
    for el in opf.iter():
        if _local(el.tag) == "item" and el.get("id") and el.get("href"):
            href = posixpath.normpath(posixpath.join(base, unquote(str(el.get("href")))))
            manifest[str(el.get("id"))] = (href, el.get("media-type", ""), el.get("properties", ""))
    chapters: list[str] = []
    toc: str | None = None
    for el in opf.iter():
        name = _local(el.tag)
        if name == "spine" and el.get("toc") in manifest:
            toc = manifest[str(el.get("toc"))][0]
        elif name == "itemref":
            item = manifest.get(str(el.get("idref")))
            if item and item[1] in _XHTML_TYPES and el.get("linear", "yes") != "no":
                chapters.append(item[0])
    nav = next((href for href, _t, props in manifest.values() if "nav" in props.split()), None)
    return chapters, nav or toc


def _toc_titles(archive: zipfile.ZipFile, toc: str, path: Path) -> dict[str, str]:
    """Chapter titles by file, from an EPUB 3 nav document or an EPUB 2 NCX."""
    try:
        root = etree.fromstring(read_member(archive, toc, path), safe_parser())
    except (etree.XMLSyntaxError, ExtractionError):
        return {}
    base = posixpath.dirname(toc)
    titles: dict[str, str] = {}
    for el in root.iter():
        name = _local(el.tag)
        if name == "a" and el.get("href"):  # nav: <a href="ch1.xhtml">Title</a>
            href, text = str(el.get("href")), " ".join("".join(el.itertext()).split())
        elif name == "navPoint":  # NCX: <navLabel><text>Title</text></navLabel><content src>
            label = next((t for t in el.iter() if _local(t.tag) == "text"), None)
            content = next((c for c in el.iter() if _local(c.tag) == "content"), None)
            if label is None or content is None or not content.get("src"):
                continue
            href, text = str(content.get("src")), " ".join("".join(label.itertext()).split())
        else:
            continue
        target = posixpath.normpath(posixpath.join(base, unquote(href.split("#", 1)[0])))
        if text:
            titles.setdefault(target, text)
    return titles


def _encrypted_content(archive: zipfile.ZipFile, path: Path) -> bool:
    """Say whether encryption.xml encrypts chapters (font obfuscation alone is harmless)."""
    root = _xml(read_member(archive, "META-INF/encryption.xml", path), path, "encryption.xml")
    for el in root.iter():
        if _local(el.tag) == "CipherReference":
            uri = str(el.get("URI", "")).lower()
            if not uri.endswith((".otf", ".ttf", ".woff", ".woff2")):
                return True
    return False
