#!/usr/bin/env python3
"""Screenshots of Teach a style… during a real (short) training run, and of the Style
dropdown with a shipped adapter's tooltip (its description and measured effect).

    .venv/bin/python scripts/teach_screenshots.py docs/

Runs the real window offscreen in a temporary Folio home; the training is real (its own
process, the default model), just on four pasted examples.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

EXAMPLES = """Q: What does the lease say about pets?
A: - Pets need the landlord's written consent [1]

Q: When is the rent due?
A: - On the first day of each month [2]

Q: Who pays for repairs?
A: - The landlord pays for structural repairs [1]
- The tenant pays for damage they cause [3]

Q: Can I sublet the flat?
A: - Only with written permission [2]
"""


def main(out: Path) -> int:
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QApplication, QToolTip

    from desktop.config import Config
    from desktop.paths import Locations
    from desktop.session import Session
    from desktop.settings import Settings
    from desktop.ui.harness import screenshot, settle, temporary_home, wait_for, wait_until
    from desktop.ui.main_window import MainWindow
    from desktop.ui.teach_dialog import open_teach_dialog

    app = QApplication.instance() or QApplication(sys.argv)
    with temporary_home(Locations.from_environment(), "folio-teach-shots-") as (_root, where):
        settings = Settings(max_answer_tokens=48)
        w = MainWindow(Session(Config.resolve(settings, where)))
        w.resize(1320, 820)
        w.show()
        if not w.model_info:
            wait_for(w.models.model_ready, 300)
        dialog = open_teach_dialog(w, w.session, w.model_info, w.refresh_adapters)
        dialog.pasted.setPlainText(EXAMPLES)
        dialog.name_edit.setText("tenancy-brief")
        dialog.description_edit.setText("Short tenancy answers in bullets")
        dialog.train_button.click()
        if not wait_until(lambda: dialog.status.text().startswith("Training: step"), 1800):
            print(f"training did not start: {dialog.error.text()}", file=sys.stderr)
            return 1
        screenshot(dialog, out, "10-teach-style.png")
        if wait_for(dialog.trained, 3600) is None:
            print(f"training did not finish: {dialog.error.text()}", file=sys.stderr)
            return 1
        screenshot(dialog, out, "11-teach-done.png")
        dialog.close()
        wait_until(lambda: "tenancy-brief" in {r["name"] for r in w.adapter_rows}, 60)

        combo = w.model_bar.adapter_combo
        row = combo.findText("bullet-brief")
        combo.showPopup()
        settle(300)
        view = combo.view()
        rect = view.visualRect(combo.model().index(row, 0))
        QToolTip.showText(view.mapToGlobal(rect.center()), combo.itemData(row, 3), view)
        settle(600)
        # Offscreen, each top-level window is its own surface: paint popup and tooltip onto
        # the window's picture where they appear on screen.
        image = w.grab().toImage()
        painter = QPainter(image)
        origin = w.mapToGlobal(QPoint(0, 0))
        tips = [t for t in app.topLevelWidgets() if t.isVisible() and t.inherits("QTipLabel")]
        for top in [view.window(), *tips]:
            painter.drawPixmap(top.mapToGlobal(QPoint(0, 0)) - origin, top.grab())
        painter.end()
        out.mkdir(parents=True, exist_ok=True)
        image.save(str(out / "12-style-tooltip.png"), "PNG")
        w.close()
    print(f"saved 10-teach-style.png, 11-teach-done.png, 12-style-tooltip.png in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
