#!/usr/bin/env python3
"""Render Folio's SVG icon into the formats the bundles need: PNG sizes for Linux (hicolor),
folio.ico for Windows and folio.icns for macOS (written into packaging/, not committed).

    python packaging/make_icons.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "desktop" / "ui" / "assets" / "folio.svg"
OUT = ROOT / "packaging"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render_pngs(out: Path) -> list[Path]:
    """One PNG per size, drawn by Qt's SVG renderer (offscreen, no display needed)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0], "-platform", "offscreen"])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG} is not a valid SVG")
    pngs = []
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = out / "icons" / f"folio-{size}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path), "PNG"):
            raise SystemExit(f"cannot write {path}")
        pngs.append(path)
    del app
    return pngs


def main() -> int:
    from PIL import Image

    pngs = render_pngs(OUT)
    biggest = Image.open(pngs[-1])
    biggest.save(OUT / "folio.ico", sizes=[(s, s) for s in SIZES if s <= 256])
    biggest.save(OUT / "folio.icns")
    print(f"wrote {len(pngs)} PNGs, folio.ico and folio.icns in {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
