"""The GUI's parts on their own: text helpers, the question box, views fed by hand. Fast."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, Signal

from desktop.durations import format_duration, time_left
from desktop.library.indexer import IndexProgress
from desktop.library.store import FolderStatus
from desktop.paths import Locations
from desktop.settings import Settings
from desktop.ui.composer import Composer
from desktop.ui.formatting import (
    answer_footer,
    highlight_html,
    linkify_citations,
    parse_cite_href,
    query_terms,
)
from desktop.ui.library_sidebar import EMPTY_HELP, LibrarySidebar
from desktop.ui.opener import page_command
from desktop.ui.qtcompat import emit
from desktop.ui.settings_dialog import SettingsDialog
from desktop.ui.sources_panel import SourcesPanel


def test_citations_become_links_except_in_code_and_out_of_range() -> None:
    md = "It made 42 MW [1], see also [2, 3]. `x[1]` stays. Bogus [9]."
    out = linkify_citations(md, 7, available=3)
    assert "[\\[1\\]](cite:7:1)" in out
    assert "[\\[2\\]](cite:7:2)[\\[3\\]](cite:7:3)" in out
    assert "`x[1]`" in out
    assert "Bogus [9]." in out
    assert parse_cite_href("cite:7:2") == (7, 2)
    assert parse_cite_href("https://example.com") is None


def test_highlight_marks_words_sharing_a_stem_with_the_question() -> None:
    terms = query_terms("How many megawatts did the Zorblax turbine produce?")
    assert terms == ["megawatts", "zorblax", "turbine", "produce"]
    out = highlight_html("The Zorblax turbines produced 42 megawatts <fast>.", terms)
    assert out.count("<span") == 4  # Zorblax, turbines, produced, megawatts
    assert "&lt;fast&gt;" in out


def test_footer_and_durations() -> None:
    meta = {
        "timings_ms": {"retrieve": 12.3, "first_token": 840.0},
        "tokens_per_s": 71.25,
        "model": "SmolLM2",
        "adapters": [{"name": "pirate", "scale": 1.5}],
        "stopped": True,
    }
    assert answer_footer(meta) == (
        "Retrieval 12 ms · first token 840 ms · 71.2 tokens/s · "
        "SmolLM2 · style: pirate ×1.50 · stopped"
    )
    meta["indexing"] = "still indexing: 40 % embedded (400 of 1,000 chunks)"
    assert answer_footer(meta).endswith(
        "stopped · still indexing: 40 % embedded (400 of 1,000 chunks)"
    )
    assert format_duration(None) == format_duration(math.nan) == "—"
    assert format_duration(42.4) == "42 s"
    assert format_duration(65) == "1 min 05 s"
    assert format_duration(3725) == "1 h 02 min"
    assert time_left(None) == "estimating time left"
    assert time_left(0.4) == "almost done"  # not "about 0 s left" while work remains
    assert time_left(65) == "about 1 min 05 s left"


def test_pdf_page_commands_for_known_viewers() -> None:
    pdf = Path("/docs/report.pdf")
    assert page_command("org.gnome.Evince.desktop", pdf, 2) == [
        "evince",
        "--page-index=2",
        "/docs/report.pdf",
    ]
    assert page_command("okularApplication_pdf.desktop", pdf, 3) == [
        "okular",
        "--page",
        "3",
        "/docs/report.pdf",
    ]
    firefox = page_command("firefox.desktop", pdf, 2)
    assert firefox is not None and firefox[1].endswith("report.pdf#page=2")
    assert page_command("unknown-viewer.desktop", pdf, 2) is None


class _Emitter(QObject):
    fired = Signal(int)


def test_emit_keeps_the_interpreter_alive_over_many_signals() -> None:
    # PySide6 6.12.0 drops a reference to True on each Python emit; 50k emits would abort.
    source = _Emitter()
    got: list[int] = []
    source.fired.connect(got.append)
    before = sys.getrefcount(True)
    for i in range(50_000):
        emit(source.fired, i)
    assert len(got) == 50_000
    assert sys.getrefcount(True) >= before - 100


def test_enter_sends_and_shift_enter_adds_a_line(qtbot) -> None:  # type: ignore[no-untyped-def]
    composer = Composer()
    qtbot.addWidget(composer)
    sent: list[str] = []
    composer.send_requested.connect(sent.append)
    qtbot.keyClicks(composer.edit, "first line")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(composer.edit, "second")
    assert sent == []
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert sent == ["first line\nsecond"]
    assert composer.edit.toPlainText() == ""
    stops: list[bool] = []
    composer.stop_requested.connect(lambda: stops.append(True))
    composer.set_busy(True)
    assert composer.button.text() == "Stop"
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)  # Enter does not send while busy
    qtbot.mouseClick(composer.button, Qt.MouseButton.LeftButton)
    assert stops == [True] and sent == ["first line\nsecond"]
    with qtbot.waitSignal(composer.edit.escape_pressed, timeout=1000):
        qtbot.keyClick(composer.edit, Qt.Key.Key_Escape)


def test_sidebar_empty_state_progress_and_failures(qtbot) -> None:  # type: ignore[no-untyped-def]
    sidebar = LibrarySidebar()
    qtbot.addWidget(sidebar)
    sidebar.set_folders([], {})
    assert sidebar.stack.currentWidget() is sidebar.drop_zone
    assert sidebar.drop_zone.help.text() == EMPTY_HELP
    status = FolderStatus(
        1,
        "/data/project",
        3,
        12,
        [("/data/project/bad.pdf", "bad.pdf: the PDF is encrypted")],
        None,
    )
    sidebar.set_folders([status], {"/data/project": "indexing…"})
    assert sidebar.stack.currentWidget() is sidebar.tree
    row = sidebar.folder_row("/data/project")
    assert row is not None and row.detail.text() == "3 documents · 12 chunks"
    assert row.state.text() == "Indexing…"
    assert row.issues.isVisibleTo(sidebar) and row.issues.text() == "⚠ 1 failed"
    qtbot.mouseClick(row.issues, Qt.MouseButton.LeftButton)
    dialog = sidebar.issues_dialog
    assert dialog is not None and dialog.isVisible()
    failure = dialog.tree.topLevelItem(0).child(0)
    assert (failure.text(0), failure.text(1)) == ("bad.pdf", "the PDF is encrypted")
    dialog.close()
    sidebar.progress.start("Indexing project")
    sidebar.progress.update_progress(
        IndexProgress(
            files_total=40, files_done=10, chunks_done=90, elapsed_s=3.0, phase="indexing"
        ),
        queued=1,
    )
    assert sidebar.progress.bar.value() == 10 and sidebar.progress.bar.maximum() == 40
    assert sidebar.progress.detail.text() == (
        "10 of 40 files · 30 chunks/s · about 9 s left · 1 more queued"
    )
    # Text first, vectors after: once every file is stored, the bar counts vectors.
    sidebar.progress.update_progress(
        IndexProgress(
            files_total=40,
            files_done=40,
            chunks_done=120,
            elapsed_s=5.0,
            phase="embedding",
            chunks_embedded=30,
            chunks_total=120,
        ),
        queued=0,
    )
    assert sidebar.progress.bar.value() == 30 and sidebar.progress.bar.maximum() == 120
    assert sidebar.progress.detail.text() == (
        "40 files searchable by keyword · embedded 30 of 120 chunks"
    )


def test_sources_panel_shows_file_folder_page_and_highlights(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = SourcesPanel()
    qtbot.addWidget(panel)
    passage = {
        "n": 2,
        "path": "/data/project/operations-report.pdf",
        "page": 2,
        "heading": None,
        "text": "The Zorblax turbine produced 42\nmegawatts.",
    }
    other = {
        "n": 1,
        "path": "/data/project/notes/travel.txt",
        "page": None,
        "heading": None,
        "text": "Travel policy.",
    }
    panel.show_sources(5, [other, passage], [passage], "Zorblax megawatts?")
    assert panel.current == passage  # the first cited passage is selected
    assert panel.title.text() == "operations-report.pdf"
    assert panel.folder.text() == str(Path("/data/project"))
    assert panel.location.text().startswith("Page 2")
    html = panel.passage.toHtml()
    assert "42 megawatts" in panel.passage.toPlainText()  # hard line break joined
    assert html.count("background-color:#ffe58a") == 2
    assert panel.select(1) and panel.title.text() == "travel.txt"
    assert not panel.select(9)


def test_settings_dialog_validates(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = SettingsDialog(Settings(), Locations.from_environment())
    qtbot.addWidget(dialog)
    dialog.chunk_tokens.setValue(100)
    dialog.chunk_overlap.setValue(60)
    dialog.accept()
    assert dialog.problem.isVisible() or not dialog.problem.isHidden()
    assert "overlap" in dialog.problem.text().lower()
    dialog.chunk_overlap.setValue(20)
    dialog.k.setValue(3)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.accept()
    assert dialog.result_settings().k == 3
    assert dialog.result_settings().theme == "dark"


def test_settings_dialog_edits_how_files_are_read(qtbot) -> None:  # type: ignore[no-untyped-def]
    from desktop.ingest import ocr

    dialog = SettingsDialog(Settings(), Locations.from_environment())
    qtbot.addWidget(dialog)
    assert dialog.watch_folders.isChecked() and not dialog.ocr.isChecked()
    assert dialog.ocr.isEnabled() == ocr.available()
    dialog.watch_folders.setChecked(False)
    dialog.max_file_mb.setValue(50)
    dialog.parse_timeout_s.setValue(20)
    dialog.accept()
    got = dialog.result_settings()
    assert (got.watch_folders, got.max_file_mb, got.parse_timeout_s) == (False, 50, 20.0)
    # OCR turned on in settings.json but not installed can still be turned off here.
    dialog = SettingsDialog(Settings(ocr=True), Locations.from_environment())
    qtbot.addWidget(dialog)
    assert dialog.ocr.isEnabled() and dialog.ocr.isChecked()


@pytest.mark.parametrize("theme_name", ["light", "dark", "system"])
def test_themes_apply(qapp, theme_name: str) -> None:  # type: ignore[no-untyped-def]
    from desktop.ui import theme

    colors = theme.apply(qapp, theme_name)
    assert colors is theme.colors()
    window = qapp.palette().color(qapp.palette().ColorRole.Window).name()
    assert window == colors.window
    assert (colors is theme.DARK) == (
        theme_name == "dark" or (theme_name == "system" and theme.system_is_dark())
    )
    theme.apply(qapp, "light")


def test_selftest_command_is_registered() -> None:
    from desktop.cli import build_parser

    args = build_parser().parse_args(["selftest", "--screenshot", "shots"])
    assert args.func.__name__ == "cmd_selftest"
    assert args.screenshot == Path("shots")


def test_window_refuses_to_open_invisibly_without_a_display(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.ui import app

    monkeypatch.setattr(app.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert app.run_app() == 1
    assert "no display found" in capsys.readouterr().err


def test_counts_read_as_words_in_the_cli_and_the_window() -> None:
    from desktop.wording import counted

    assert counted(1, "document") == "1 document"
    assert counted(0, "chunk") == "0 chunks"
    assert counted(2048, "chunk") == "2,048 chunks"
    assert counted(2, "library", "libraries") == "2 libraries"
