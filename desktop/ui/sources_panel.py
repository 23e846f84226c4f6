"""The sources of an answer: each passage with its file, folder and page, terms highlighted."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.json_types import JSON, JSONObject
from desktop.ui import theme
from desktop.ui.formatting import (
    citation_number,
    highlight_html,
    highlight_spans_html,
    query_terms,
    sentence_spans,
    source_title,
)
from desktop.ui.qtcompat import emit

_N_ROLE = Qt.ItemDataRole.UserRole
_CODE_SUFFIXES = frozenset(
    ".py .js .ts .c .h .cpp .hpp .rs .go .java .rb .sh .toml .json .yaml "
    ".yml .sql .cs .kt .swift .php".split()
)


def reflow(text: str) -> str:
    """Join the hard line breaks of extracted text; keep paragraph breaks."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


class SourcesPanel(QWidget):
    """Lists an answer's passages; the selected one is shown whole, ready to open."""

    open_requested = Signal(str, object)  # path, page (int or None)
    reveal_requested = Signal(str)  # path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SourcesPanel")
        heading = QLabel("SOURCES")
        heading.setObjectName("SectionTitle")
        self.list = QListWidget()
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.currentItemChanged.connect(self._on_current)
        self.title = QLabel()
        self.title.setObjectName("SourceTitle")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder = QLabel()
        self.folder.setObjectName("Muted")
        self.folder.setWordWrap(True)
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.location = QLabel()
        self.location.setObjectName("Muted")
        self.passage = QTextBrowser()
        self.passage.setObjectName("Passage")
        self.passage.setOpenLinks(False)
        self.passage.setAcceptDrops(False)
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Open in the system viewer, at this page where possible")
        self.open_button.clicked.connect(self._open)
        self.reveal_button = QPushButton("Show in folder")
        self.reveal_button.clicked.connect(self._reveal)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.reveal_button)
        buttons.addStretch(1)
        self.empty = QLabel(
            "Click a citation such as [1] in an answer to see the passage it came from."
        )
        self.empty.setWordWrap(True)
        self.empty.setObjectName("Muted")
        self.detail = QWidget()
        detail = QVBoxLayout(self.detail)
        detail.setContentsMargins(0, 0, 0, 0)
        for w in (self.title, self.folder, self.location):
            detail.addWidget(w)
        detail.addWidget(self.passage, 1)
        detail.addLayout(buttons)
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 8, 10, 8)
        box.addWidget(heading)
        box.addWidget(self.empty, 1, Qt.AlignmentFlag.AlignTop)
        box.addWidget(self.list)
        box.addWidget(self.detail, 1)
        self.passages: dict[int, JSONObject] = {}  # by number: the stored citations
        self.cited: set[int] = set()
        self.terms: list[str] = []
        self.key: int | None = None
        self.current: JSONObject | None = None
        self.clear()

    def clear(self) -> None:
        self.key = None
        self.current = None
        self.passages = {}
        self.list.clear()
        self.list.hide()
        self.detail.hide()
        self.empty.show()

    def show_sources(
        self,
        key: int,
        passages: Sequence[Mapping[str, JSON]],
        cited: Sequence[Mapping[str, JSON]],
        question: str,
        select: int | None = None,
        support: Sequence[Mapping[str, JSON]] = (),
    ) -> None:
        """Show the passages of answer `key` (citations as stored, see `citation_dict`);
        `select` picks one by its number. `support` (see desktop.rag.grounding.Support)
        names the sentence of each cited passage that backs the answer: it is highlighted
        instead of the question's words."""
        self.key = key
        self.support: dict[int, list[str]] = {}
        for entry in support:
            n, sentence = entry.get("n"), entry.get("sentence")
            if isinstance(n, int) and isinstance(sentence, str):
                self.support.setdefault(n, []).append(sentence)
        self.passages = {citation_number(p): dict(p) for p in [*passages, *cited]}
        self.cited = {citation_number(c) for c in cited}
        self.terms = query_terms(question)
        self.list.blockSignals(True)
        self.list.clear()
        order = sorted(self.passages, key=lambda n: (n not in self.cited, n))
        for n in order:
            p = self.passages[n]
            label = f"[{n}]  {source_title(p)}"
            item = QListWidgetItem(label if n in self.cited else f"{label}  (not cited)")
            item.setData(_N_ROLE, n)
            item.setToolTip(str(p.get("path", "")))
            if n in self.cited:
                font = item.font()
                font.setWeight(QFont.Weight.DemiBold)
                item.setFont(font)
            else:
                item.setForeground(self.palette().placeholderText())
            self.list.addItem(item)
        self.list.blockSignals(False)
        rows = min(max(1, self.list.count()), 6)
        self.list.setFixedHeight(rows * max(22, self.list.sizeHintForRow(0)) + 6)
        has = bool(self.passages)
        self.list.setVisible(has)
        self.empty.setVisible(not has)
        self.empty.setText(
            "Click a citation such as [1] in an answer to see the passage it came from."
            if has or key is None
            else "This answer has no sources: nothing relevant was found."
        )
        self.detail.setVisible(False)
        if has:
            self.select(select if select in self.passages else order[0])

    def select(self, n: int) -> bool:
        """Show passage `n` of the current answer; False if it has no such passage."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(_N_ROLE) == n:
                self.list.setCurrentItem(item)
                self._show(n)
                return True
        return False

    def _on_current(self, item: QListWidgetItem | None, _previous: object) -> None:
        if item is not None:
            self._show(int(item.data(_N_ROLE)))

    def _show(self, n: int) -> None:
        p = self.passages.get(n)
        if p is None:
            return
        self.current = p
        path = Path(str(p.get("path", "")))
        self.title.setText(path.name)
        self.folder.setText(str(path.parent))
        self.folder.setToolTip(str(path))
        where = [f"Page {p['page']}"] if p.get("page") else []
        if p.get("heading"):
            where.append(f"“{p['heading']}”")
        where.append(f"passage [{n}]" + ("" if n in self.cited else ", not cited"))
        self.location.setText(" · ".join(where))
        c = theme.colors()
        text = str(p.get("text", ""))
        code = path.suffix.lower() in _CODE_SUFFIXES
        shown = text if code else reflow(text)
        spans = sentence_spans(shown, self.support.get(n, []))
        if spans:
            body = highlight_spans_html(shown, spans, c.highlight_term, c.text)
        else:
            body = highlight_html(shown, self.terms, c.highlight_term, c.text)
        font = "font-family: monospace; white-space: pre-wrap;" if code else ""
        self.passage.setHtml(f'<div style="color:{c.text}; {font}">{body}</div>')
        exists = path.exists()
        self.open_button.setEnabled(exists)
        self.reveal_button.setEnabled(exists or path.parent.exists())
        self.open_button.setToolTip(
            "Open in the system viewer, at this page where possible"
            if exists
            else "The file was moved or deleted"
        )
        self.detail.show()

    def _open(self) -> None:
        if self.current is not None:
            emit(self.open_requested, str(self.current.get("path", "")), self.current.get("page"))

    def _reveal(self) -> None:
        if self.current is not None:
            emit(self.reveal_requested, str(self.current.get("path", "")))
