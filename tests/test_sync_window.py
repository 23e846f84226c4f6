"""The window's side of ingestion: a folder's failed/skipped count opens the list of files
and reasons, and a watched folder follows edits, renames and deletions on its own.

Real window (offscreen), real core. Set FOLIO_SCREENSHOTS=DIR to keep the screenshots.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop.config import Config
from desktop.paths import Locations
from desktop.session import Session
from desktop.settings import Settings
from desktop.ui.main_window import MainWindow

pytestmark = pytest.mark.slow


@pytest.fixture()
def window(qtbot):  # type: ignore[no-untyped-def]
    settings = Settings(max_answer_tokens=48, k=3)
    w = MainWindow(Session(Config.resolve(settings, Locations.from_environment())))
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.show()
    qtbot.waitUntil(lambda: bool(w.model_info), timeout=120_000)
    yield w
    w.close()


def _keyword_paths(window: MainWindow, word: str) -> list[str]:
    rows = window.library.db.execute(
        "SELECT d.path FROM chunks_fts f JOIN chunks c ON c.id = f.rowid "
        "JOIN documents d ON d.id = c.document_id WHERE chunks_fts MATCH ?",
        (f'"{word}"',),
    )
    return sorted({str(r[0]) for r in rows})


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("FOLIO_SCREENSHOTS", tmp_path / "shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_failed_and_skipped_files_are_a_click_away_and_watching_follows_changes(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path, record_property
) -> None:
    docs = tmp_path / "Project notes"
    (docs / "node_modules" / "pkg").mkdir(parents=True)
    (docs / "node_modules" / "pkg" / "README.md").write_text("dependency docs")
    (docs / "pumps.txt").write_text("The pump at Bergen is called Alvilde.\n")
    (docs / "scan.pdf").write_bytes(b"%PDF-1.4\nthis is not a real PDF\n")
    (docs / "empty.md").write_bytes(b"")
    (docs / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0")
    (docs / ".folioignore").write_text("drafts/\n")
    (docs / "drafts").mkdir()
    (docs / "drafts" / "plan.md").write_text("a draft")

    with qtbot.waitSignal(window.library_ctl.job_ended, timeout=180_000):
        window.index_paths([docs])
    row = window.sidebar.folder_row(str(docs.resolve()))
    assert row is not None
    assert row.issues.text() == "⚠ 2 failed · 3 skipped"
    assert "watching" in row.state.text()
    shots = _shots(tmp_path)
    window.sidebar.grab().save(str(shots / "sidebar-issues.png"))

    with qtbot.waitSignal(window.sidebar.issues_shown, timeout=5_000):
        qtbot.mouseClick(row.issues, Qt.MouseButton.LeftButton)
    dialog = window.sidebar.issues_dialog
    assert dialog is not None and dialog.isVisible()
    text = dialog.as_text()
    assert "failed\tscan.pdf\tnot a valid PDF (file is damaged or truncated)" in text
    assert "failed\tempty.md\tempty file" in text
    assert "skipped\tnode_modules\ta dependency or cache folder" in text
    assert "skipped\tdrafts\tmatched the ignore rule 'drafts/'" in text
    assert "skipped\tphoto.jpg\ta binary file (.jpg), not a document" in text
    dialog.grab().save(str(shots / "file-issues-dialog.png"))
    dialog.close()

    latencies = {}
    started = time.monotonic()
    (docs / "pumps.txt").write_text("The pump at Bergen is called Dagfinn.\n")
    qtbot.waitUntil(
        lambda: _keyword_paths(window, "Dagfinn") == [str(docs / "pumps.txt")], timeout=20_000
    )
    latencies["edit"] = time.monotonic() - started
    started = time.monotonic()
    os.rename(docs / "pumps.txt", docs / "bergen.txt")
    qtbot.waitUntil(
        lambda: _keyword_paths(window, "Dagfinn") == [str(docs / "bergen.txt")], timeout=20_000
    )
    latencies["rename"] = time.monotonic() - started
    started = time.monotonic()
    (docs / "bergen.txt").unlink()
    qtbot.waitUntil(lambda: _keyword_paths(window, "Dagfinn") == [], timeout=20_000)
    latencies["delete"] = time.monotonic() - started
    assert not window.sidebar.progress.isVisibleTo(window)  # background syncs stay quiet
    print(
        f"\nwindow followed the change after (s): "
        f"{ {k: round(v, 2) for k, v in latencies.items()} }"
    )
    record_property("window_sync_latency_s", latencies)
