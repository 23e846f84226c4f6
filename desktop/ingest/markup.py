"""Markdown and reStructuredText split into sections at their headings."""

from __future__ import annotations

import re

from desktop.ingest.text import clean_plain
from desktop.ingest.types import Section

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# reST lets any punctuation character underline (and overline) a title.
_RST_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}[ \t]*$")
# A line that only draws a rule ("---", "***", "===") carries no text.
_RULE = re.compile(r"^[ \t]*([-*_=~#+^])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE)
# Lines that can never be a setext title: list items, quotes, table rows.
_NOT_TITLE = re.compile(r"^\s*(?:[-*+>|]|\d+[.)])(?:\s|$)")
# Emphasis marks; an underscore only at a word's edge, so snake_case survives.
_EMPHASIS = re.compile(r"[*`]+|(?<!\w)_+|_+(?!\w)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_FRONT_MATTER_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*[:=]", re.MULTILINE)
_FRONT_MATTER_TITLE = re.compile(r"^title\s*[:=]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_MAX_FRONT_MATTER_LINES = 200


def markdown_sections(text: str) -> list[Section]:
    """Split markdown at ATX (`#`) and setext headings, skipping fenced code; read front matter.

    YAML (`---`) or TOML (`+++`) front matter is dropped from the text; its `title`
    becomes the heading of whatever comes before the first heading.
    """
    lines = clean_plain(text).split("\n")
    title, lines = _strip_front_matter(lines)
    return _split(lines, markdown=True, heading=title)


def rst_sections(text: str) -> list[Section]:
    """Split reStructuredText at titles: a line underlined (maybe overlined) with punctuation."""
    return _split(clean_plain(text).split("\n"), markdown=False, heading=None)


def _strip_front_matter(lines: list[str]) -> tuple[str | None, list[str]]:
    """Return the front matter's title (if any) and the lines after the front matter."""
    if not lines or lines[0].strip() not in ("---", "+++"):
        return None, lines
    fence = lines[0].strip()
    closers = ("---", "...") if fence == "---" else ("+++",)
    for end in range(1, min(len(lines), _MAX_FRONT_MATTER_LINES)):
        if lines[end].strip() in closers:
            block = "\n".join(lines[1:end])
            if not _FRONT_MATTER_KEY.search(block):
                break  # a rule around ordinary text, not metadata
            match = _FRONT_MATTER_TITLE.search(block)
            title = _heading_text(match.group(1).strip("'\"")) if match else None
            return title or None, lines[end + 1 :]
    return None, lines


def _split(lines: list[str], *, markdown: bool, heading: str | None) -> list[Section]:
    """Cut lines into sections at headings; each section keeps the heading above it."""
    sections: list[Section] = []
    body: list[str] = []
    fence: str | None = None

    def flush() -> None:
        text = _RULE.sub("", "\n".join(body))
        text = clean_plain(text)
        if text.strip():
            sections.append(Section(text=text, page=None, heading=heading))
        body.clear()

    for line in lines:
        if markdown:
            fence_match = _FENCE.match(line)
            if fence is not None:
                body.append(line)
                if fence_match and line.strip() == fence[0] * len(line.strip()):
                    fence = None if len(line.strip()) >= len(fence) else fence
                continue
            if fence_match:
                fence = fence_match.group(1)
                body.append(line)
                continue
            atx = _ATX.match(line)
            if atx:
                flush()
                heading = _heading_text(atx.group(2) or "") or heading
                continue
        title = _underlined_title(body, line, markdown=markdown)
        if title is not None:
            del body[-1]
            if not markdown and body and body[-1].strip() == line.strip():
                del body[-1]  # the matching overline
            flush()
            heading = title
            continue
        body.append(line)
    flush()
    return sections


def _underlined_title(body: list[str], line: str, *, markdown: bool) -> str | None:
    """Return the title if `line` underlines the last body line as a heading, else None."""
    adornment = _SETEXT if markdown else _RST_ADORNMENT
    if not body or not adornment.match(line):
        return None
    candidate = body[-1]
    if not candidate.strip() or _NOT_TITLE.match(candidate) or adornment.match(candidate):
        return None
    before = body[-2].strip() if len(body) > 1 else ""
    overlined = not markdown and before == line.strip()
    if before and not overlined:
        return None  # the underline ends a multi-line paragraph: a rule, not a title
    indent = len(candidate) - len(candidate.lstrip())
    if indent > (3 if markdown else 0) and not overlined:
        return None
    if not markdown and len(line.strip()) < min(len(candidate.strip()), 4):
        return None
    return _heading_text(candidate) or None


def _heading_text(raw: str) -> str:
    """Return a heading as plain words: links reduced to their text, emphasis marks dropped."""
    text = _LINK.sub(r"\1", raw)
    text = _EMPHASIS.sub("", text)
    return " ".join(text.split())
