"""The library side of the real window: drops, progress, failures, pause/cancel, removal.

Real core (embedder, SQLite) under the offscreen platform; no sleeps, only signals.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from desktop.config import Config
from desktop.library import compact as compact_module
from desktop.library.indexer import IndexProgress
from desktop.paths import Locations
from desktop.sample import make_corpus
from desktop.session import Session
from desktop.settings import Settings
from desktop.ui.bench_ui import measure_indexing
from desktop.ui.composer import HINT
from desktop.ui.harness import write_notes
from desktop.ui.library_controller import COMPACTING
from desktop.ui.main_window import MainWindow

pytestmark = pytest.mark.slow

# Generous: the target is 100 ms (see `folio bench ui`); a blocked GUI thread shows seconds.
LATENESS_P99_BOUND_MS = 500


@pytest.fixture()
def window(qtbot):  # type: ignore[no-untyped-def]
    settings = Settings(max_answer_tokens=48, k=3)
    w = MainWindow(Session(Config.resolve(settings, Locations.from_environment())))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: bool(w.model_info), timeout=120_000)
    yield w
    w.close()


def _drag(window: MainWindow, paths: list[Path]) -> tuple[QDragEnterEvent, QDropEvent, QMimeData]:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    action, button, mods = (
        Qt.DropAction.CopyAction,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter = QDragEnterEvent(QPointF(300, 300), action, mime, button, mods)
    drop = QDropEvent(QPointF(300, 300), action, mime, button, mods)
    return enter, drop, mime


def test_dropped_folder_is_indexed_with_progress_counts_and_failures(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    docs = make_corpus(tmp_path)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not a real PDF\n")
    assert window.sidebar.stack.currentWidget() is window.sidebar.drop_zone
    progress: list[IndexProgress] = []
    window.library_ctl.job_progress.connect(lambda _job, p: progress.append(p))

    enter, drop, _mime = _drag(window, [docs])
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    assert window.sidebar.drop_zone.property("active") == "true"
    with qtbot.waitSignal(window.library_ctl.job_ended, timeout=180_000) as ended:
        QApplication.sendEvent(window, drop)
        assert drop.isAccepted()
        assert window.sidebar.progress.isVisibleTo(window)  # progress shows while it runs
    assert ended.args[1] == "done"

    last = progress[-1]
    assert last.phase == "done"
    assert last.files_done == last.files_total == 5
    assert not window.sidebar.progress.isVisibleTo(window)
    row = window.sidebar.folder_row(str(docs.resolve()))
    assert row is not None
    counts = window.library.counts()
    assert counts["documents"] == 4 and counts["failed"] == 1
    assert row.detail.text() == f"4 documents · {counts['chunks']} chunks"
    assert row.issues.text() == "⚠ 1 failed"
    qtbot.mouseClick(row.issues, Qt.MouseButton.LeftButton)
    dialog = window.sidebar.issues_dialog
    assert dialog is not None
    failure = dialog.tree.topLevelItem(0).child(0)
    assert failure.text(0) == "broken.pdf"
    assert failure.text(1) == "not a valid PDF (file is damaged or truncated)"
    assert str(docs / "broken.pdf") in failure.toolTip(0)
    assert "Traceback" not in dialog.as_text()
    dialog.close()
    assert window.sidebar.summary.text().endswith("· 1 failed")


def test_pause_cancel_reindex_and_remove(qtbot, window: MainWindow, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notes = write_notes(tmp_path / "notes", 150)
    box = window.sidebar.progress
    with qtbot.waitSignal(
        window.library_ctl.job_progress,
        timeout=120_000,
        check_params_cb=lambda _j, p: p.files_done > 0,
    ):
        job = window.index_paths([notes])
    qtbot.mouseClick(box.pause, Qt.MouseButton.LeftButton)
    running = window.library_ctl.running_job()
    assert running is not None and running.token.paused
    assert box.pause.text() == "Resume" and "paused" in box.detail.text()
    with qtbot.waitSignal(window.library_ctl.job_ended, timeout=60_000) as ended:
        qtbot.mouseClick(box.cancel, Qt.MouseButton.LeftButton)
    assert ended.args == [job, "cancelled"]
    kept = window.library.counts()["documents"]
    assert 0 < kept < 150  # what was stored before the cancel stays

    with qtbot.waitSignal(window.library_ctl.job_ended, timeout=180_000) as ended:
        window.sidebar.reindex_requested.emit(str(notes))
    assert ended.args[1] == "done"
    assert window.library.counts()["documents"] == 150

    folder_id = window.library.folder_id(notes)
    assert folder_id is not None
    with qtbot.waitSignal(window.library_ctl.library_changed, timeout=60_000):
        window.library_ctl.remove_folder(folder_id)
    assert window.library.counts() == {"folders": 0, "documents": 0, "failed": 0, "chunks": 0}
    assert window.sidebar.stack.currentWidget() is window.sidebar.drop_zone
    assert notes.joinpath("note-0000.txt").exists()  # files on disk are untouched

    # File → Compact library gives the space back (the worker's thread, a notice after).
    [compact] = [a for a in window.actions() if a.text() == "&Compact library"]
    before = compact_module.file_bytes(window.library.path)
    with qtbot.waitSignal(
        window.library_ctl.notice,
        timeout=120_000,
        check_params_cb=lambda m: m.startswith("Library compacted"),
    ) as done:
        compact.trigger()
    assert compact_module.file_bytes(window.library.path) < before
    assert "MB →" in done.args[0]

    # While one runs, a second click and a new question are answered, not queued.
    said: list[str] = []
    window.library_ctl.notice.connect(said.append)
    window.chat.notice.connect(said.append)
    with qtbot.waitSignal(
        window.library_ctl.notice,
        timeout=120_000,
        check_params_cb=lambda m: m.startswith("Library compacted"),
    ):
        compact.trigger()
        assert "compacted" in window.composer.edit.placeholderText()
        assert window.statusBar().currentMessage().startswith("Compacting the library")
        compact.trigger()
        assert window.chat.send("How many notes are there?") is None
    assert said.count(COMPACTING) == 2 and not window.library_ctl.compacting
    assert window.composer.edit.placeholderText() == HINT  # its own hint is back


def test_event_loop_stays_responsive_while_500_files_index(  # type: ignore[no-untyped-def]
    qtbot, window: MainWindow, tmp_path: Path, record_property
) -> None:
    """The GUI thread's timer lateness while a worker indexes. The target (p99 under 100 ms)
    is `folio bench ui`'s to report; this bound is generous, for a loaded CI machine, but a
    GUI thread that did the indexing itself (seconds per batch) fails it."""
    result = measure_indexing(window, write_notes(tmp_path / "many", 500))
    record_property("event_loop_lateness_ms", result["lateness_ms"])
    print(f"\nevent loop while indexing 500 files: {result}")
    assert result["outcome"] == "done"
    assert result["files"] == 500
    assert result["lateness_ms"]["samples"] > 50
    assert result["progress_updates"] > 1
    assert result["lateness_ms"]["p99"] < LATENESS_P99_BOUND_MS
