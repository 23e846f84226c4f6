"""Text out of PowerPoint (.pptx) files with python-pptx: one section per slide, as a page.

Each slide's title is its heading; its text frames, tables and speaker notes follow in the
order the slide lists its shapes (groups opened), so a citation says "page 7" for slide 7.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.errors import ExtractionError
from desktop.ingest.limits import DEFAULT_LIMITS, IngestLimits
from desktop.ingest.text import clean_prose
from desktop.ingest.types import Section
from desktop.ingest.zipguard import check_archive

if TYPE_CHECKING:
    from pptx.shapes.base import BaseShape
    from pptx.slide import Slide

log = logging.getLogger(__name__)


def extract_pptx(path: Path, limits: IngestLimits = DEFAULT_LIMITS) -> list[Section]:
    """Return one section per slide with text, `page` being the slide number.

    Raises:
        ExtractionError: not a readable .pptx, a part too big to expand, or too much text.
    """
    check_archive(path, limits, "PowerPoint presentation").close()
    from pptx import Presentation

    try:
        deck = Presentation(str(path))
    except Exception:  # python-pptx raises its zip and XML layers' errors on a bad file
        log.debug("python-pptx could not open %s", path, exc_info=True)
        raise ExtractionError(f"{path}: not a valid PowerPoint presentation") from None
    sections: list[Section] = []
    chars = 0
    try:
        for number, slide in enumerate(deck.slides, start=1):
            title, body = _slide_text(slide)
            if not body and not title:
                continue
            text = "\n\n".join(([title] if title else []) + body)
            chars += len(text)
            limits.check_text_size(path, chars)
            sections.append(Section(text, number, title or None, f"slide {number}"))
    except ExtractionError:
        raise
    except Exception:
        log.debug("python-pptx failed while reading %s", path, exc_info=True)
        raise ExtractionError(f"{path}: the PowerPoint presentation is damaged") from None
    return sections


def _slide_text(slide: Slide) -> tuple[str, list[str]]:
    """A slide's title and the other texts on it (speaker notes last)."""
    shapes = slide.shapes
    title_shape = shapes.title
    title = " ".join(clean_prose(title_shape.text_frame.text).split()) if title_shape else ""
    body = []
    for shape in _walk(shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        text = _shape_text(shape)
        if text:
            body.append(text)
    frame = slide.notes_slide.notes_text_frame if slide.has_notes_slide else None
    if frame is not None:
        notes = clean_prose(frame.text)
        if notes:
            body.append(f"Notes: {notes}")
    return title, body


def _walk(shapes: Iterable[BaseShape]) -> Iterator[BaseShape]:
    """Every shape, groups opened, without recursion (groups can nest deeply)."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    stack = list(reversed(list(shapes)))
    while stack:
        shape = stack.pop()
        children = getattr(shape, "shapes", None)
        if children is not None and shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            stack.extend(reversed(list(children)))
        else:
            yield shape


def _shape_text(shape: BaseShape) -> str:
    from pptx.shapes.autoshape import Shape
    from pptx.shapes.graphfrm import GraphicFrame

    if isinstance(shape, GraphicFrame) and shape.has_table:
        rows = []
        for row in shape.table.rows:
            cells = [" ".join(clean_prose(c.text).split()) for c in row.cells]
            if any(cells):
                rows.append(" | ".join(c for c in cells if c))
        return "\n".join(rows)
    if isinstance(shape, Shape) and shape.has_text_frame:
        return clean_prose(shape.text_frame.text)
    return ""
