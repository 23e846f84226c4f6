"""The question box: Enter sends, Shift+Enter adds a line; one button that is Send or Stop."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPlainTextEdit, QPushButton, QWidget

from desktop.ui.qtcompat import emit

MAX_LINES = 6


# The question box's hint when it is empty.
HINT = "Ask about your documents…  (Enter sends, Shift+Enter adds a line)"


class QuestionEdit(QPlainTextEdit):
    """A plain-text box that grows with its text, up to a few lines."""

    submitted = Signal()
    escape_pressed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(HINT)
        self.setAcceptDrops(False)  # drops go to the window, which indexes them
        self.setTabChangesFocus(True)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.textChanged.connect(self.updateGeometry)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:  # when the window's Esc shortcut is not active
            event.accept()
            emit(self.escape_pressed)
            return
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            event.accept()
            emit(self.submitted)
            return
        if enter:  # Shift+Enter: a new line, not a paragraph separator
            self.insertPlainText("\n")
            event.accept()
            return
        super().keyPressEvent(event)

    def sizeHint(self) -> QSize:
        lines = max(1, min(MAX_LINES, self.document().lineCount()))
        height = self.fontMetrics().lineSpacing() * lines + 14
        return QSize(super().sizeHint().width(), height)

    def minimumSizeHint(self) -> QSize:
        return QSize(100, self.fontMetrics().lineSpacing() + 14)


class Composer(QFrame):
    """Question box plus the Send/Stop button."""

    send_requested = Signal(str)
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Composer")
        self.edit = QuestionEdit()
        self.edit.submitted.connect(self._submit)
        self.button = QPushButton("Send")
        self.button.setObjectName("Primary")
        self.button.setToolTip("Send (Enter)")
        self.button.clicked.connect(self._clicked)
        self.button.setMinimumWidth(80)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 8, 6)
        row.addWidget(self.edit, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)
        self.busy = False

    def _clicked(self) -> None:
        if self.busy:
            emit(self.stop_requested)
        else:
            self._submit()

    def _submit(self) -> None:
        if self.busy:
            return
        text = self.edit.toPlainText().strip()
        if not text:
            return
        self.edit.clear()
        emit(self.send_requested, text)

    def set_busy(self, busy: bool) -> None:
        """While an answer streams the button stops it (Esc does too)."""
        self.busy = busy
        self.button.setText("Stop" if busy else "Send")
        self.button.setToolTip("Stop the answer (Esc)" if busy else "Send (Enter)")
        self.button.setObjectName("Danger" if busy else "Primary")
        self.button.style().unpolish(self.button)
        self.button.style().polish(self.button)
        self.button.setEnabled(True)
