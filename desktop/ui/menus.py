"""The window's menus and keyboard shortcuts.

The menus only wire commands to actions: each command is a callable the window hands over
in `MenuCommands`, so this module knows nothing of the window's insides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox

from desktop import __version__

Command = Callable[[], object]


@dataclass(frozen=True)
class MenuCommands:
    """What the menu items do."""

    choose_folder: Command
    compact_library: Command
    add_adapter: Command
    open_settings: Command
    quit: Command
    new_chat: Command
    stop: Command
    export_chat: Command
    rename_chat: Command
    teach: Command
    show_sources: Callable[[bool], object]
    reload_adapters: Command
    copy_diagnostics: Command
    open_log_folder: Command


def _action(
    window: QMainWindow,
    text: str,
    slot: Command,
    shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)  # shortcuts work even while the menu bar is hidden
    return action


def build_menus(window: QMainWindow, do: MenuCommands) -> dict[str, QAction]:
    """File, Chat, View and Help menus; Ctrl+N new chat, Esc stops the answer.

    Returns:
        The actions tests and the self-test trigger, by name.
    """
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(_action(window, "&Add folder…", do.choose_folder, "Ctrl+O"))
    file_menu.addAction(_action(window, "Add st&yle adapter…", do.add_adapter))
    file_menu.addAction(_action(window, "&Compact library", do.compact_library))
    file_menu.addSeparator()
    file_menu.addAction(
        _action(window, "&Settings…", do.open_settings, QKeySequence.StandardKey.Preferences)
    )
    file_menu.addSeparator()
    file_menu.addAction(_action(window, "&Quit", do.quit, QKeySequence.StandardKey.Quit))

    chat_menu = bar.addMenu("&Chat")
    named = {
        "new_chat": _action(window, "&New chat", do.new_chat, QKeySequence.StandardKey.New),
        "stop": _action(window, "&Stop answer", do.stop, "Esc"),
    }
    chat_menu.addAction(named["new_chat"])
    chat_menu.addAction(named["stop"])
    chat_menu.addSeparator()
    chat_menu.addAction(_action(window, "&Export chat as Markdown…", do.export_chat, "Ctrl+E"))
    chat_menu.addAction(_action(window, "&Rename chat", do.rename_chat, "F2"))
    chat_menu.addSeparator()
    named["teach"] = _action(window, "&Teach a style…", do.teach)
    chat_menu.addAction(named["teach"])

    view_menu = bar.addMenu("&View")
    sources = QAction("&Sources panel", window, checkable=True, checked=True)
    sources.toggled.connect(do.show_sources)
    view_menu.addAction(sources)
    view_menu.addAction(_action(window, "Reload &adapters", do.reload_adapters))

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(_action(window, "&Copy diagnostics", do.copy_diagnostics))
    help_menu.addAction(_action(window, "Open &log folder", do.open_log_folder))
    help_menu.addSeparator()
    help_menu.addAction(_action(window, "&About Folio", lambda: _about(window)))
    return named


def _about(window: QMainWindow) -> None:
    QMessageBox.about(
        window,
        "About Folio",
        f"<b>Folio {__version__}</b><br>Ask questions of your own documents, "
        "offline. Answers cite the file, page and passage they come from.",
    )
