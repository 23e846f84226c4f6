"""The conversation as a document: questions, streamed Markdown answers, clickable [n] citations.

Finished messages are inserted once. The answer being streamed is re-rendered from its
Markdown at most 25 times a second, replacing only its own range of the document, so a long
conversation costs no more per token than a short one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QRect, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QKeyEvent,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextFrame,
    QTextFrameFormat,
)
from PySide6.QtWidgets import QApplication, QTextBrowser, QWidget

from desktop.json_types import JSON
from desktop.ui import theme
from desktop.ui.formatting import (
    answer_footer,
    citation_number,
    cite_href,
    linkify_citations,
    parse_cite_href,
    source_title,
)
from desktop.ui.qtcompat import emit

RENDER_INTERVAL_MS = 40
WAITING_TEXT = "Searching your library…"


@dataclass
class _Streaming:
    key: int
    frame: QTextFrame
    start: int  # document position where the answer's content begins
    text: str = ""


class ChatView(QTextBrowser):
    """Read-only chat transcript; emits `citation_clicked(message key, n)` on [n] links."""

    citation_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Chat")
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setAcceptDrops(False)  # drops go to the window, which indexes them
        self.document().setDocumentMargin(18)
        self.anchorClicked.connect(self._on_anchor)
        self._stream: _Streaming | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RENDER_INTERVAL_MS)
        self._timer.timeout.connect(self._render_stream)
        self.messages = 0
        # Where typed text goes: the transcript is read-only, so a user who clicked it and
        # starts typing a question means the question box.
        self.type_target: QWidget | None = None

    def keyPressEvent(self, event: QKeyEvent) -> None:
        target = self.type_target
        commands = (
            Qt.KeyboardModifier.ControlModifier
            | Qt.KeyboardModifier.AltModifier
            | Qt.KeyboardModifier.MetaModifier
        )
        text = event.text()
        if target is not None and text and text.isprintable() and not event.modifiers() & commands:
            target.setFocus(Qt.FocusReason.OtherFocusReason)
            QApplication.sendEvent(target, event)
            return
        super().keyPressEvent(event)

    # -- whole transcript ------------------------------------------------------------------
    def clear_chat(self, welcome: str = "") -> None:
        self._timer.stop()
        self._stream = None
        self.clear()
        self.messages = 0
        if welcome:
            c = self._end_cursor()
            block = QTextBlockFormat()
            block.setTopMargin(40)
            block.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            c.setBlockFormat(block)
            title = QTextCharFormat()
            title.setFontPointSize(self.font().pointSizeF() * 1.5)
            title.setFontWeight(QFont.Weight.DemiBold)
            title.setForeground(QColor(theme.colors().text))
            lines = welcome.split("\n")
            c.insertText(lines[0], title)
            muted = QTextCharFormat()
            muted.setForeground(QColor(theme.colors().muted))
            for line in lines[1:]:
                c.insertBlock(block)
                c.insertText(line, muted)
            self._welcome = True
        else:
            self._welcome = False

    def _end_cursor(self) -> QTextCursor:
        c = QTextCursor(self.document())
        c.movePosition(QTextCursor.MoveOperation.End)
        return c

    def _drop_welcome(self) -> None:
        if getattr(self, "_welcome", False):
            self.clear()
            self._welcome = False

    def _bubble(self, role: str) -> tuple[QTextCursor, QTextFrame]:
        self._drop_welcome()
        colors = theme.colors()
        fmt = QTextFrameFormat()
        fmt.setPadding(12)
        fmt.setTopMargin(6)
        fmt.setBottomMargin(6)
        if role == "user":
            fmt.setBackground(QColor(colors.user_bubble))
            fmt.setLeftMargin(72)
        else:
            fmt.setBackground(QColor(colors.answer_bubble))
            fmt.setRightMargin(48)
        cursor = self._end_cursor()
        frame = cursor.insertFrame(fmt)
        head = QTextCharFormat()
        head.setFontWeight(QFont.Weight.DemiBold)
        head.setForeground(QColor(colors.muted))
        cursor.insertText("You" if role == "user" else "Folio", head)
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        self.messages += 1
        return cursor, frame

    def add_user(self, text: str) -> None:
        cursor, _ = self._bubble("user")
        plain = QTextCharFormat()
        plain.setForeground(QColor(theme.colors().text))
        cursor.insertText(text.strip(), plain)
        self._scroll_to_end()

    def add_answer(
        self,
        key: int,
        text: str,
        meta: Mapping[str, JSON],
        cited: Sequence[Mapping[str, JSON]] = (),
    ) -> None:
        """A finished answer (from history, or when streaming ends): its stored meta and
        citations (see `desktop.library.conversations.Message`)."""
        cursor, frame = self._bubble("assistant")
        self._fill(cursor.position(), frame, text, key, meta, cited)
        self._scroll_to_end()

    # -- streaming -------------------------------------------------------------------------
    @property
    def streaming(self) -> bool:
        return self._stream is not None

    def begin_answer(self, key: int) -> None:
        cursor, frame = self._bubble("assistant")
        self._stream = _Streaming(key, frame, cursor.position())
        muted = QTextCharFormat()
        muted.setForeground(QColor(theme.colors().muted))
        muted.setFontItalic(True)
        cursor.insertText(WAITING_TEXT, muted)
        self._scroll_to_end()

    def append_token(self, piece: str) -> None:
        if self._stream is None:
            return
        self._stream.text += piece
        if not self._timer.isActive():
            self._timer.start()

    def end_answer(
        self,
        key: int,
        text: str,
        meta: Mapping[str, JSON] | None,
        cited: Sequence[Mapping[str, JSON]] = (),
    ) -> None:
        """Replace the streamed text with the final answer (stored as message `key`), its
        citation links, its sources and its timings."""
        self._timer.stop()
        stream, self._stream = self._stream, None
        if stream is None:
            self.add_answer(key, text, meta or {}, cited)
            return
        at_end = self._at_end()
        self._fill(stream.start, stream.frame, text, key, meta, cited)
        if at_end:
            self._scroll_to_end()

    def _render_stream(self) -> None:
        stream = self._stream
        if stream is None:
            return
        at_end = self._at_end()
        self._fill(stream.start, stream.frame, stream.text + " ▍", stream.key, None, ())
        if at_end:
            self._scroll_to_end()

    def _fill(
        self,
        start: int,
        frame: QTextFrame,
        text: str,
        key: int,
        meta: Mapping[str, JSON] | None,
        cited: Sequence[Mapping[str, JSON]],
    ) -> None:
        """Replace an answer's content with `text` rendered as Markdown, then (when `meta`
        is given, i.e. the answer is finished) its sources and its timings."""
        listed = meta.get("passages") if meta is not None else None
        passages = len(listed) if isinstance(listed, list) else 0
        if not text.strip() and meta is not None and meta.get("stopped"):
            text = "*Stopped before the answer began.*"
        markdown = linkify_citations(text, key, passages or None)
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        cursor.setPosition(frame.lastPosition(), QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        cursor.setBlockFormat(QTextBlockFormat())
        cursor.setCharFormat(QTextCharFormat())
        cursor.insertMarkdown(markdown.strip() or " ")
        if meta is None:
            return
        colors = theme.colors()
        small = QTextCharFormat()
        small.setForeground(QColor(colors.muted))
        small.setFontPointSize(max(7.0, self.font().pointSizeF() * 0.85))
        block = QTextBlockFormat()
        block.setTopMargin(8)
        if cited:
            cursor.insertBlock(block, small)
            cursor.insertText("Sources  ", small)
            for c in cited:
                link = QTextCharFormat(small)
                link.setAnchor(True)
                link.setAnchorHref(cite_href(key, citation_number(c)))
                link.setForeground(QColor(colors.accent))
                cursor.insertText(f"[{c['n']}] {source_title(c)}", link)
                cursor.insertText("   ", small)
        cursor.insertBlock(block, small)
        cursor.insertText(answer_footer(meta), small)

    # -- scrolling and links ---------------------------------------------------------------
    def _at_end(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 24

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _on_anchor(self, url: QUrl) -> None:
        parsed = parse_cite_href(url.toString())
        if parsed is not None:
            emit(self.citation_clicked, *parsed)

    def citation_rect(self, key: int, n: int) -> QRect | None:
        """Where the link `[n]` of message `key` is drawn, in viewport coordinates."""
        href = cite_href(key, n)
        block = self.document().begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                if fragment.charFormat().anchorHref() == href:
                    cursor = QTextCursor(self.document())
                    cursor.setPosition(fragment.position() + 1)
                    self.setTextCursor(cursor)
                    self.ensureCursorVisible()
                    return self.cursorRect(cursor)
                it += 1
            block = block.next()
        return None
