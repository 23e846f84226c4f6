"""The window's menus and keyboard shortcuts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QMessageBox

from desktop import __version__
from desktop.ui.diagnostics import diagnostics_text
from desktop.ui.teach_dialog import open_teach_dialog

if TYPE_CHECKING:
    from desktop.ui.main_window import MainWindow


def _action(
    window: MainWindow,
    text: str,
    slot: object,
    shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(slot)  # type: ignore[arg-type]
    window.addAction(action)  # shortcuts work even while the menu bar is hidden
    return action


def build_menus(window: MainWindow) -> dict[str, QAction]:
    """File, Chat, View and Help menus; Ctrl+N new chat, Esc stops the answer.

    Returns:
        The actions tests and the self-test trigger, by name.
    """
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(_action(window, "&Add folder…", window.choose_folder, "Ctrl+O"))
    file_menu.addAction(_action(window, "Add st&yle adapter…", window.choose_adapter_file))
    file_menu.addSeparator()
    file_menu.addAction(
        _action(window, "&Settings…", window.open_settings, QKeySequence.StandardKey.Preferences)
    )
    file_menu.addSeparator()
    file_menu.addAction(_action(window, "&Quit", window.close, QKeySequence.StandardKey.Quit))

    chat_menu = bar.addMenu("&Chat")
    named = {
        "new_chat": _action(
            window, "&New chat", window.chat.new_chat, QKeySequence.StandardKey.New
        ),
        "stop": _action(window, "&Stop answer", window.chat.stop, "Esc"),
    }
    chat_menu.addAction(named["new_chat"])
    chat_menu.addAction(named["stop"])
    chat_menu.addSeparator()
    chat_menu.addAction(_action(window, "&Export chat as Markdown…", window.export_chat, "Ctrl+E"))
    chat_menu.addAction(_action(window, "&Rename chat", _rename(window), "F2"))
    chat_menu.addSeparator()
    named["teach"] = _action(window, "&Teach a style…", lambda: open_teach_dialog(window))
    chat_menu.addAction(named["teach"])

    view_menu = bar.addMenu("&View")
    sources = QAction("&Sources panel", window, checkable=True, checked=True)
    sources.toggled.connect(window.sources.setVisible)
    view_menu.addAction(sources)
    view_menu.addAction(_action(window, "Reload &adapters", window.refresh_adapters))

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(_action(window, "&Copy diagnostics", lambda: copy_diagnostics(window)))
    help_menu.addAction(
        _action(
            window,
            "Open &log folder",
            lambda: QDesktopServices.openUrl(
                QUrl.fromLocalFile(str(window.session.locations.log_dir))
            ),
        )
    )
    help_menu.addSeparator()
    help_menu.addAction(_action(window, "&About Folio", lambda: _about(window)))
    return named


def _rename(window: MainWindow) -> object:
    def rename() -> None:
        if window.chat.chat_id is not None:
            window.history.start_rename(window.chat.chat_id)

    return rename


def copy_diagnostics(window: MainWindow) -> str:
    """Put a diagnostics report on the clipboard (and return it)."""
    from PySide6 import QtCore

    counts: dict[str, object]
    try:
        counts = dict(window.library.counts())
    except Exception as exc:  # noqa: BLE001 - the report must still be produced
        counts = {"error": str(exc)}
    text = diagnostics_text(window.session.config, counts, window.model_info, QtCore.qVersion())
    QGuiApplication.clipboard().setText(text)
    window.notify("Diagnostics copied to the clipboard.")
    return text


def _about(window: MainWindow) -> None:
    QMessageBox.about(
        window,
        "About Folio",
        f"<b>Folio {__version__}</b><br>Ask questions of your own documents, "
        "offline. Answers cite the file, page and passage they come from.",
    )
