"""The list of past chats: New chat, open, rename (in place), delete, export as Markdown."""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop.library.conversations import Conversation
from desktop.ui.qtcompat import emit
from desktop.ui.theme import section_header

_ID_ROLE = Qt.ItemDataRole.UserRole


def _when(ts: float) -> str:
    now = time.localtime()
    then = time.localtime(ts)
    if then[:3] == now[:3]:
        return time.strftime("%H:%M", then)
    return time.strftime("%d %b", then)


class HistoryPane(QWidget):
    """Chats, the most recent first. The list reports what the user asks for; it changes
    nothing itself."""

    chat_selected = Signal(int)
    new_chat_requested = Signal()
    rename_requested = Signal(int, str)
    delete_requested = Signal(int)
    export_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.new_button = QPushButton("New chat")
        self.new_button.setToolTip("Start a new chat (Ctrl+N)")
        self.new_button.clicked.connect(self.new_chat_requested)
        self.list = QListWidget()
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemChanged.connect(self._on_edited)
        self.empty = QLabel("Your chats will be listed here.")
        self.empty.setObjectName("Muted")
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 8, 10, 8)
        box.addLayout(section_header("CHATS", self.new_button))
        box.addWidget(self.list, 1)
        box.addWidget(self.empty)
        self._titles: dict[int, str] = {}

    def set_chats(self, chats: Sequence[Conversation], current: int | None) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        self._titles = {}
        for chat in chats:
            item = QListWidgetItem(chat.title)
            item.setData(_ID_ROLE, chat.id)
            item.setToolTip(
                f"{chat.title}\n{chat.messages} messages · last used "
                f"{_when(chat.updated_at)}\nDouble-click to rename"
            )
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self.list.addItem(item)
            self._titles[chat.id] = chat.title
            if chat.id == current:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.empty.setVisible(not chats)

    def current_id(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else int(item.data(_ID_ROLE))

    def start_rename(self, chat_id: int) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(_ID_ROLE) == chat_id:
                self.list.editItem(item)

    def _on_current(self, item: QListWidgetItem | None, _previous: object) -> None:
        if item is not None:
            emit(self.chat_selected, int(item.data(_ID_ROLE)))

    def _on_edited(self, item: QListWidgetItem) -> None:
        chat_id = int(item.data(_ID_ROLE))
        title = item.text().strip()
        if title and title != self._titles.get(chat_id):
            self._titles[chat_id] = title
            emit(self.rename_requested, chat_id, title)
        elif not title:
            self.list.blockSignals(True)
            item.setText(self._titles.get(chat_id, ""))
            self.list.blockSignals(False)

    def _menu(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        chat_id = int(item.data(_ID_ROLE))
        menu = QMenu(self)
        menu.addAction("Rename", lambda: self.list.editItem(item))
        menu.addAction("Export as Markdown…", lambda: emit(self.export_requested, chat_id))
        menu.addSeparator()
        menu.addAction("Delete…", lambda: emit(self.delete_requested, chat_id))
        menu.exec(self.list.viewport().mapToGlobal(pos))
