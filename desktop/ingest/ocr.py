"""Optional OCR of scanned PDF pages with RapidOCR (the `folio[ocr]` extra), fully offline.

rapidocr-onnxruntime (Apache-2.0) ships its PP-OCR detection and recognition models inside
its wheel, so nothing is downloaded. It is off by default (Settings: OCR) and only ever runs
inside a parse worker process; every document it read says so in its notes.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from functools import cache
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

# Render scanned pages at 2x (144 dpi): enough for body text, cheap enough for 2 cores.
_RENDER_SCALE = 2.0
# Boxes whose tops lie closer than this share a line (in rendered pixels).
_LINE_TOLERANCE = 12


class _Bitmap(Protocol):
    def to_numpy(self) -> np.ndarray: ...


class _Renderable(Protocol):
    def render(self, *, scale: float) -> _Bitmap: ...


# RapidOCR's engine: an image in; (boxes with text and score, or None), and timings out.
_Engine = Callable[[np.ndarray], tuple[list[tuple[list[list[float]], str, float]] | None, object]]


def available() -> bool:
    """Say whether the OCR extra is installed."""
    return importlib.util.find_spec("rapidocr_onnxruntime") is not None


@cache
def _engine() -> _Engine:
    from rapidocr_onnxruntime import RapidOCR

    engine: _Engine = RapidOCR()
    return engine


def read_page(page: _Renderable) -> str:
    """Return the text OCR finds on a PDF page, line by line in reading order."""
    bitmap = page.render(scale=_RENDER_SCALE)
    image = np.ascontiguousarray(bitmap.to_numpy())
    return read_image(image)


def read_image(image: np.ndarray) -> str:
    """Return the text OCR finds in a BGR image array, line by line in reading order."""
    engine = _engine()
    result, _elapsed = engine(image)
    if not result:
        return ""
    boxes = [
        (float(min(p[1] for p in box)), float(min(p[0] for p in box)), str(text))
        for box, text, _score in result
    ]
    boxes.sort()
    lines: list[list[tuple[float, str]]] = []
    top = None
    for y, x, text in boxes:
        if top is None or y - top > _LINE_TOLERANCE:
            lines.append([])
            top = y
        lines[-1].append((x, text))
    return "\n".join(" ".join(t for _, t in sorted(line)) for line in lines)
