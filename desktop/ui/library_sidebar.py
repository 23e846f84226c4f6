"""The library sidebar: indexed folders with their counts, a link to the files that failed or
were skipped, whether they are watched, and indexing progress."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.durations import time_left
from desktop.library.indexer import IndexProgress
from desktop.library.store import FolderStatus
from desktop.ui.file_issues import FileIssuesDialog, issue_counts
from desktop.ui.qtcompat import emit
from desktop.ui.theme import section_header
from desktop.wording import counted

EMPTY_HELP = "Drop folders or files here, or use Add folder…, to ask questions about them."
_FOLDER_ROLE = Qt.ItemDataRole.UserRole


def _ago(when: float | None) -> str:
    if not when:
        return "not indexed yet"
    minutes = int((time.time() - when) // 60)
    if minutes < 1:
        return "indexed just now"
    if minutes < 60:
        return f"indexed {minutes} min ago"
    if minutes < 60 * 24:
        return f"indexed {minutes // 60} h ago"
    return "indexed " + time.strftime("%d %b %Y", time.localtime(when))


class FolderRow(QWidget):
    """One folder: name, counts, state, the failed/skipped link and a menu of actions."""

    issues_clicked = Signal(str)  # folder path

    def __init__(self, status: FolderStatus, state: str, menu: QMenu, watched: bool) -> None:
        super().__init__()
        self.status = status
        path = Path(status.path)
        name = QLabel(f"<b>{path.name or status.path}</b>")
        name.setToolTip(status.path)
        self.detail = QLabel(
            f"{counted(status.documents, 'document')} · {counted(status.chunks, 'chunk')}"
        )
        self.detail.setToolTip(status.path)
        shown = state.capitalize() if state else _ago(status.indexed_at).capitalize()
        self.state = QLabel(shown + (" · watching" if watched and not state else ""))
        self.state.setObjectName("Muted")
        if watched:
            self.state.setToolTip("Changes to these files are indexed as they happen")
        self.issues = QToolButton()
        self.issues.setObjectName("IssuesLink")
        self.issues.setAutoRaise(True)
        # A link, not a button: the list it opens is the thing, the count only says so.
        self.issues.setStyleSheet(
            "QToolButton { color: palette(link); border: none; padding: 0; }"
            "QToolButton:hover { text-decoration: underline; }"
        )
        self.issues.setCursor(Qt.CursorShape.PointingHandCursor)
        counts = issue_counts(status)
        self.issues.setText(f"⚠ {counts}" if status.failed else counts)
        self.issues.setToolTip("Show the files that could not be read or were skipped, and why")
        self.issues.setAccessibleName(f"Files needing attention in {path.name}: {counts}")
        self.issues.setVisible(bool(counts))
        self.issues.clicked.connect(lambda: emit(self.issues_clicked, status.path))
        more = QToolButton()
        more.setText("⋯")
        more.setAutoRaise(True)
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        more.setMenu(menu)
        more.setToolTip("Re-index, show in folder or remove")
        more.setAccessibleName(f"Actions for {path.name}")
        text = QVBoxLayout()
        text.setContentsMargins(0, 0, 0, 0)
        text.setSpacing(0)
        for label in (name, self.detail, self.state):
            text.addWidget(label)
        text.addWidget(self.issues, 0, Qt.AlignmentFlag.AlignLeft)
        row = QHBoxLayout(self)
        row.setContentsMargins(2, 2, 2, 2)
        row.addLayout(text, 1)
        row.addWidget(more, 0, Qt.AlignmentFlag.AlignTop)


class DropZone(QFrame):
    """The empty-library state: a big target for drops with one line of help."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("DropZone")
        title = QLabel("Drop folders here")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        title.setFont(font)
        glyph = QLabel("⇩")
        glyph.setAlignment(Qt.AlignmentFlag.AlignCenter)
        glyph_font = glyph.font()
        glyph_font.setPointSizeF(glyph_font.pointSizeF() * 3)
        glyph.setFont(glyph_font)
        glyph.setObjectName("Muted")
        self.help = QLabel(EMPTY_HELP)
        self.help.setWordWrap(True)
        self.help.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.help.setObjectName("Muted")
        box = QVBoxLayout(self)
        box.addStretch(1)
        box.addWidget(glyph)
        box.addWidget(title)
        box.addWidget(self.help)
        box.addStretch(1)

    def set_active(self, active: bool) -> None:
        self.setProperty("active", "true" if active else "false")
        self.style().unpolish(self)
        self.style().polish(self)


class ProgressBox(QFrame):
    """Progress of the running indexing job, with pause and cancel."""

    pause_toggled = Signal(bool)  # True: pause
    cancel_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.title = QLabel()
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.detail = QLabel()
        self.detail.setObjectName("Muted")
        self.current = QLabel()
        self.current.setObjectName("Muted")
        self.current.setMinimumWidth(10)
        self.pause = QPushButton("Pause")
        self.pause.setCheckable(True)
        self.pause.toggled.connect(self._on_pause)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_requested)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.pause)
        buttons.addWidget(self.cancel)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 6, 0, 6)
        for w in (self.title, self.bar, self.detail, self.current):
            box.addWidget(w)
        box.addLayout(buttons)

    def _on_pause(self, paused: bool) -> None:
        self.pause.setText("Resume" if paused else "Pause")
        emit(self.pause_toggled, paused)

    def start(self, title: str) -> None:
        self.title.setText(f"<b>{title}</b>")
        self.bar.setRange(0, 0)  # busy until the scan has counted the files
        self.detail.setText("Looking for documents…")
        self.current.clear()
        self.pause.blockSignals(True)
        self.pause.setChecked(False)
        self.pause.setText("Pause")
        self.pause.blockSignals(False)
        self.show()

    def update_progress(self, p: IndexProgress, queued: int) -> None:
        if p.phase == "waiting":
            self.detail.setText("Waiting: " + p.current)
            self.current.clear()
            return
        if p.phase == "scanning":
            self.detail.setText("Looking for documents…")
        elif p.phase == "embedding" or (p.phase == "done" and not p.embedding_done):
            # The text is stored and searchable by keyword; the vectors follow.
            self.bar.setRange(0, max(1, p.chunks_total))
            self.bar.setValue(p.chunks_embedded)
            self.detail.setText(
                f"{p.files_done:,} files searchable by keyword · {p.embedded_text()}"
            )
        else:
            self.bar.setRange(0, max(1, p.files_total))
            self.bar.setValue(p.files_done)
            left = "" if p.phase == "done" else f" · {time_left(p.eta_s)}"
            embedded = f" · {p.embedded_text()}" if p.embedded_text() else ""
            self.detail.setText(
                f"{p.files_done:,} of {p.files_total:,} files · {p.chunks_per_s:.0f} chunks/s"
                f"{embedded}{left}"
            )
        if self.pause.isChecked():
            self.detail.setText(self.detail.text() + " · paused")
        if queued:
            self.detail.setText(self.detail.text() + f" · {queued} more queued")
        name = Path(p.current).name if p.current else ""
        self.current.setText(
            self.current.fontMetrics().elidedText(
                name, Qt.TextElideMode.ElideMiddle, max(60, self.current.width())
            )
        )


class LibrarySidebar(QWidget):
    """Folders in the library, the empty-state drop target, and indexing progress."""

    add_folder_requested = Signal()
    reindex_requested = Signal(str)  # folder path
    remove_requested = Signal(int, str)  # folder id, folder path
    reveal_requested = Signal(str)  # folder path
    issues_shown = Signal(str)  # folder path, once its list of files is on screen

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("Sidebar")
        self.add_button = QPushButton("Add folder…")
        self.add_button.setToolTip("Choose a folder to index (you can also drop folders here)")
        self.add_button.clicked.connect(self.add_folder_requested)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(0)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.watched: frozenset[str] = frozenset()
        self.issues_dialog: FileIssuesDialog | None = None
        self.drop_zone = DropZone()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.drop_zone)
        self.stack.addWidget(self.tree)
        self.progress = ProgressBox()
        self.progress.hide()
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.summary.setWordWrap(True)
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 8, 10, 8)
        box.addLayout(section_header("LIBRARY", self.add_button))
        box.addWidget(self.stack, 1)
        box.addWidget(self.progress)
        box.addWidget(self.summary)
        self.statuses: list[FolderStatus] = []

    # -- folders ---------------------------------------------------------------------------
    def _menu_for(self, status: FolderStatus) -> QMenu:
        menu = QMenu(self)
        reindex = QAction("Re-index", menu)
        reindex.triggered.connect(lambda: emit(self.reindex_requested, status.path))
        reveal = QAction("Show in folder", menu)
        reveal.triggered.connect(lambda: emit(self.reveal_requested, status.path))
        remove = QAction("Remove from library…", menu)
        remove.triggered.connect(lambda: emit(self.remove_requested, status.id, status.path))
        menu.addActions([reindex, reveal])
        menu.addSeparator()
        menu.addAction(remove)
        return menu

    def set_folders(
        self, statuses: Sequence[FolderStatus], states: dict[str, str], pending: Sequence[str] = ()
    ) -> None:
        """Show `statuses`; `states` maps a folder path to 'indexing…'/'queued' and the like."""
        self.statuses = list(statuses)
        self.tree.blockSignals(True)
        self.tree.clear()
        known = {s.path for s in statuses}
        shown = list(statuses) + [
            FolderStatus(-1, p, 0, 0, [], None) for p in pending if p not in known
        ]
        for status in shown:
            item = QTreeWidgetItem(self.tree)
            item.setData(0, _FOLDER_ROLE, status.path)
            row = FolderRow(
                status,
                states.get(status.path, ""),
                self._menu_for(status),
                status.path in self.watched,
            )
            row.issues_clicked.connect(self.show_issues)
            row.ensurePolished()
            item.setSizeHint(0, row.sizeHint())
            self.tree.setItemWidget(item, 0, row)
        self.tree.blockSignals(False)
        self.stack.setCurrentWidget(self.tree if shown else self.drop_zone)
        docs = sum(s.documents for s in statuses)
        chunks = sum(s.chunks for s in statuses)
        failed = sum(len(s.failed) for s in statuses)
        skipped = sum(len(s.skipped) for s in statuses)
        text = (
            (
                f"{counted(len(statuses), 'folder')} · {counted(docs, 'document')} · "
                f"{counted(chunks, 'chunk')}"
            )
            if statuses
            else ""
        )
        self.summary.setText(
            text
            + (f" · {failed:,} failed" if failed else "")
            + (f" · {skipped:,} skipped" if skipped else "")
        )

    def show_issues(self, path: str) -> None:
        """Open the list of a folder's failed, skipped and noted files (a click on its link)."""
        status = next((s for s in self.statuses if s.path == path), None)
        if status is None:
            return
        if self.issues_dialog is not None:
            self.issues_dialog.close()
        self.issues_dialog = FileIssuesDialog(status, self)
        self.issues_dialog.show()
        emit(self.issues_shown, path)

    def folder_row(self, path: str) -> FolderRow | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and item.data(0, _FOLDER_ROLE) == path:
                widget = self.tree.itemWidget(item, 0)
                return widget if isinstance(widget, FolderRow) else None
        return None

    def _context_menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        while item is not None and item.parent() is not None:
            item = item.parent()
        if item is None:
            return
        row = self.tree.itemWidget(item, 0)
        if isinstance(row, FolderRow) and row.status.id >= 0:
            self._menu_for(row.status).exec(self.tree.viewport().mapToGlobal(pos))
