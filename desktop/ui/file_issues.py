"""The list behind a folder's "2 failed · 5 skipped" link: every file that needs attention,
with the reason in words a user can act on."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.library.issue_text import name_in_folder, reason_without_path
from desktop.library.status import FolderStatus

_KINDS = (
    ("failed", "Could not be read"),
    ("skipped", "Skipped"),
    ("noted", "Indexed, with a note"),
)


def issue_rows(status: FolderStatus) -> list[tuple[str, str, str]]:
    """(kind, path relative to the folder, reason) for every file that needs attention."""
    rows = []
    for kind, _title in _KINDS:
        for path, reason in getattr(status, kind):
            reason = reason_without_path(path, reason).replace(status.path.rstrip("/") + "/", "")
            rows.append((kind, name_in_folder(path, status.path), reason))
    return rows


def issue_counts(status: FolderStatus) -> str:
    """The link text on a folder row: "2 failed · 5 skipped" ("" when nothing to show)."""
    parts = []
    if status.failed:
        parts.append(f"{len(status.failed):,} failed")
    if status.skipped:
        parts.append(f"{len(status.skipped):,} skipped")
    if status.noted:
        parts.append(f"{len(status.noted):,} with notes")
    return " · ".join(parts)


class FileIssuesDialog(QDialog):
    """Failed, skipped and noted files of one folder, grouped, with a copy button."""

    def __init__(self, status: FolderStatus, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        name = Path(status.path).name or status.path
        self.setWindowTitle(f"{name}: files that need attention")
        self.resize(720, 420)
        intro = QLabel(
            f"<b>{name}</b> — {issue_counts(status) or 'every file was indexed'}.<br>"
            "Failed files are tried again when they change; skipped ones follow your ignore "
            "rules and the limits in Settings."
        )
        intro.setWordWrap(True)
        intro.setToolTip(status.path)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["File", "Reason"])
        self.tree.setRootIsDecorated(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.tree.setColumnWidth(0, 260)
        self._rows = issue_rows(status)
        for kind, title in _KINDS:
            rows = [r for r in self._rows if r[0] == kind]
            if not rows:
                continue
            group = QTreeWidgetItem(self.tree, [f"{title} ({len(rows):,})", ""])
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            group.setFirstColumnSpanned(True)
            for _kind, path, reason in rows:
                item = QTreeWidgetItem(group, [path, reason])
                item.setToolTip(0, str(Path(status.path) / path))
                item.setToolTip(1, reason)
            group.setExpanded(True)
        copy = QPushButton("Copy list")
        copy.setToolTip("Copy every file and reason as text")
        copy.clicked.connect(self.copy_list)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        box = QVBoxLayout(self)
        box.addWidget(intro)
        box.addWidget(self.tree, 1)
        box.addWidget(buttons)

    def as_text(self) -> str:
        return "\n".join(f"{kind}\t{path}\t{reason}" for kind, path, reason in self._rows)

    def copy_list(self) -> None:
        QGuiApplication.clipboard().setText(self.as_text())
