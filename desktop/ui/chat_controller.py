"""Questions and chats: sends asks to the chat worker, streams them into the view, stores them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import apsw
from PySide6.QtCore import QObject, QTimer, Signal

from desktop.cancel import CancelToken
from desktop.errors import FolioError
from desktop.json_types import JSONObject
from desktop.library.conversations import Conversations, Message, citation_dict, json_objects
from desktop.rag.answer import Answer
from desktop.session import Session
from desktop.ui.chat_view import ChatView
from desktop.ui.chat_worker import AnswerInfo, ChatWorker
from desktop.ui.composer import Composer
from desktop.ui.history_pane import HistoryPane
from desktop.ui.qtcompat import emit
from desktop.ui.sources_panel import SourcesPanel
from desktop.ui.workers import WorkerHost

log = logging.getLogger(__name__)

# After Stop, the worker normally confirms within a token or two. If it has not after this
# long (a big model on a busy CPU can take longer per token, and a prompt being prefilled
# cannot be interrupted), the answer is closed here with the text shown so far, and the
# worker's late result only fills in its sources.
STOP_GRACE_MS = 120

WELCOME = (
    "Ask a question about your documents\n"
    "Answers cite their sources as [1], [2]… Click one to see the passage."
)
WELCOME_EMPTY = (
    "Add documents to get started\n"
    "Drop folders or files onto the window, or use Add folder… on the left."
)


class AnswerSources(TypedDict):
    """What the sources panel shows for one answer: its citations as stored."""

    passages: list[JSONObject]
    cited: list[JSONObject]
    question: str
    support: list[JSONObject]  # the passage sentence behind each [n] (desktop.rag.grounding)


@dataclass
class Pending:
    """An answer being generated."""

    request_id: int
    chat_id: int
    question: str
    token: CancelToken = field(default_factory=CancelToken)
    stop_clicked_at: float | None = None
    sent_at: float = field(default_factory=time.perf_counter)
    first_piece_at: float | None = None
    text: str = ""
    pieces: int = 0


class ChatController(QObject):
    """Owns the chat worker thread and the chat history of the library."""

    answer_finished = Signal(int, Answer, AnswerInfo)  # request id, the answer, what wrote it
    answer_failed = Signal(int, str)
    busy_changed = Signal(bool)
    streamed = Signal(int, str)  # request id, piece shown
    chats_changed = Signal()
    notice = Signal(str)
    error = Signal(str)

    _ask = Signal(int, str, object, object)
    _warm = Signal()

    def __init__(
        self,
        session: Session,
        view: ChatView,
        composer: Composer,
        sources: SourcesPanel,
        history: HistoryPane,
        library_empty: Callable[[], bool],
    ) -> None:
        super().__init__()
        self.view, self.composer, self.sources, self.history = view, composer, sources, history
        self.chats = Conversations(session.library.db)  # the GUI thread's connection
        self.library_empty = library_empty
        # Why a question cannot be sent now (None: it can): the window sets it while the
        # library is compacted, when nothing can be written to it.
        self.blocked_by: Callable[[], str | None] = lambda: None
        self.worker = ChatWorker(session)
        self.host = WorkerHost(self.worker, "folio-chat")
        self._ask.connect(self.worker.ask)
        self._warm.connect(self.worker.warm)
        self.worker.token.connect(self._on_token)
        self.worker.answered.connect(self._on_answered)
        self.worker.failed.connect(self._on_failed)
        composer.send_requested.connect(self.send)
        composer.edit.textChanged.connect(self._on_typing)
        self._typing = False
        composer.stop_requested.connect(self.stop)
        view.citation_clicked.connect(self.show_citation)
        history.chat_selected.connect(self.open_chat)
        history.new_chat_requested.connect(self.new_chat)
        history.rename_requested.connect(self.rename_chat)
        self.chat_id: int | None = None
        self.pending: Pending | None = None
        self.closed = False  # after shutdown, late worker signals are ignored
        self.in_flight: set[int] = set()  # requests the worker has not answered yet
        self._detached: dict[int, tuple[int, str]] = {}  # request -> (message key, text shown)
        self._grace = QTimer(self)
        self._grace.setSingleShot(True)
        self._grace.setInterval(STOP_GRACE_MS)
        self._grace.timeout.connect(self._finish_locally)
        self._next_request = 0
        self._answers: dict[int, AnswerSources] = {}  # message key -> sources of that answer
        latest = self.chats.latest()
        self.open_chat(latest.id if latest else None)

    # -- chats -----------------------------------------------------------------------------
    def _refresh_history(self) -> None:
        self.history.set_chats(self.chats.all(), self.chat_id)
        emit(self.chats_changed)

    def new_chat(self) -> None:
        """Start an empty chat (stored when the first question is asked)."""
        self.open_chat(None)
        self.composer.edit.setFocus()

    def open_chat(self, chat_id: int | None) -> None:
        if self.pending is not None and self.pending.chat_id != chat_id:
            self.stop()  # its answer is still stored in its own chat
        self.chat_id = chat_id
        self._answers = {}
        self.sources.clear()
        self.view.clear_chat()
        messages = self.chats.messages(chat_id) if chat_id is not None else []
        if not messages:
            self.view.clear_chat(WELCOME_EMPTY if self.library_empty() else WELCOME)
        question = ""
        for message in messages:
            if message.role == "user":
                question = message.content
                self.view.add_user(message.content)
            else:
                self._remember(message, question)
                self.view.add_answer(message.id, message.content, message.meta, message.citations)
        self._refresh_history()

    def refresh_welcome(self) -> None:
        """Redraw the welcome text of an empty chat (the library may have become non-empty)."""
        if not self.closed and self.view.messages == 0 and self.pending is None:
            self.view.clear_chat(WELCOME_EMPTY if self.library_empty() else WELCOME)

    def rename_chat(self, chat_id: int, title: str) -> None:
        self.chats.rename(chat_id, title)
        self._refresh_history()

    def delete_chat(self, chat_id: int) -> None:
        if self.pending is not None and self.pending.chat_id == chat_id:
            self.stop()
        self.chats.delete(chat_id)
        if chat_id == self.chat_id:
            latest = self.chats.latest()
            self.open_chat(latest.id if latest else None)
        else:
            self._refresh_history()

    def export_chat(self, chat_id: int, path: Path) -> Path:
        return self.chats.export_to(chat_id, path)

    def _remember(self, message: Message, question: str) -> None:
        self._answers[message.id] = {
            "passages": json_objects(message.meta.get("passages", [])),
            "cited": message.citations,
            "question": question,
            "support": json_objects(message.meta.get("support", [])),
        }

    # -- asking ----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.pending is not None

    def send(self, question: str) -> int | None:
        """Ask `question` in the current chat; returns the request id (None if busy)."""
        question = question.strip()
        if not question or self.pending is not None:
            return None
        reason = self.blocked_by()
        if reason is not None:
            emit(self.notice, reason)
            return None
        try:
            if self.chat_id is None:
                self.chat_id = self.chats.create()
            history = self.chats.history(self.chat_id)
            self.chats.add_message(self.chat_id, "user", question)
        except FolioError as exc:
            emit(self.error, str(exc))
            return None
        self._next_request += 1
        self.pending = Pending(self._next_request, self.chat_id, question)
        self.view.add_user(question)
        self.view.begin_answer(-self.pending.request_id)
        self.composer.set_busy(True)
        emit(self.busy_changed, True)
        self._refresh_history()
        self.in_flight.add(self.pending.request_id)
        emit(self._ask, self.pending.request_id, question, history, self.pending.token)
        return self.pending.request_id

    def _on_typing(self) -> None:
        """The user started a question: have the model ready the prompt's fixed part."""
        typing = bool(self.composer.edit.toPlainText().strip())
        if typing and not self._typing and self.pending is None:
            emit(self._warm)
        self._typing = typing

    def warm_if_typing(self) -> None:
        """After an adapter switch: prepare the prompt again if a question is being typed."""
        if self._typing and self.pending is None:
            emit(self._warm)

    def stop(self) -> None:
        """Stop the answer being generated (the engine checks the token between tokens)."""
        if self.pending is not None and not self.pending.token.cancelled:
            self.pending.stop_clicked_at = time.perf_counter()
            self.pending.token.cancel()
            self.composer.button.setText("Stopping…")
            self.composer.button.setEnabled(False)
            self._grace.start()

    def _on_token(self, request_id: int, piece: str) -> None:
        pending = self.pending
        if self.closed or pending is None or pending.request_id != request_id:
            return
        if pending.token.cancelled:
            return  # the answer ends where the user stopped it
        pending.text += piece
        pending.pieces += 1
        if pending.first_piece_at is None:
            pending.first_piece_at = time.perf_counter()
        if self.chat_id == pending.chat_id:
            self.view.append_token(piece)
        emit(self.streamed, request_id, piece)

    def _finish(self) -> Pending | None:
        pending, self.pending = self.pending, None
        self.composer.set_busy(False)
        emit(self.busy_changed, False)
        return pending

    def _on_answered(self, request_id: int, answer: Answer, info: AnswerInfo) -> None:
        self.in_flight.discard(request_id)
        if self.closed:
            return
        if request_id in self._detached:
            self._complete_detached(request_id, answer)
            return
        if self.pending is None or self.pending.request_id != request_id:
            return
        self._grace.stop()
        pending = self._finish()
        assert pending is not None
        self._store_and_show(pending, answer, info)
        if pending.stop_clicked_at is not None:
            log.info(
                "answer stopped %.0f ms after Stop",
                (time.perf_counter() - pending.stop_clicked_at) * 1000,
            )
        emit(self.answer_finished, request_id, answer, info)

    def _finish_locally(self) -> None:
        """Close a stopped answer whose worker has not confirmed yet (see STOP_GRACE_MS)."""
        pending = self.pending
        if self.closed or pending is None or not pending.token.cancelled:
            return
        self._finish()
        now = time.perf_counter()
        timings = {"total": (now - pending.sent_at) * 1000}
        if pending.first_piece_at is not None:
            timings["first_token"] = (pending.first_piece_at - pending.sent_at) * 1000
        answer = Answer(pending.text.strip(), [], [], timings, tokens=pending.pieces, stopped=True)
        info: AnswerInfo = {
            "model": self.worker.model_info.get("name", ""),
            "adapters": [a.copy() for a in self.worker.adapters],
            "confirmed": False,
        }
        key = self._store_and_show(pending, answer, info)
        self._detached[pending.request_id] = (key, answer.text)
        emit(self.answer_finished, pending.request_id, answer, info)

    def _complete_detached(self, request_id: int, answer: Answer) -> None:
        """The worker's result for an answer already closed on Stop: keep its sources."""
        key, shown = self._detached.pop(request_id)
        passages = [citation_dict(c) for c in answer.passages]
        cited = [citation_dict(c) for c in answer.citations if f"[{c.n}]" in shown]
        log.info("the worker confirmed stopped answer %d", request_id)
        if key < 0:
            return
        try:
            message = self.chats.message(key)
            meta: JSONObject = {
                **message.meta,
                "passages": list(passages),
                "timings_ms": {k: round(v, 1) for k, v in answer.timings_ms.items()},
            }
            self.chats.update_message(key, cited, meta)
        except FolioError:
            return  # the chat was deleted meanwhile
        if key in self._answers:
            self._answers[key].update({"passages": passages, "cited": cited})

    def _store_and_show(self, pending: Pending, answer: Answer, info: AnswerInfo) -> int:
        """Store the answer in its chat, render it if that chat is shown; returns its key."""
        passages = [citation_dict(c) for c in answer.passages]
        meta: JSONObject = {
            "timings_ms": {k: round(v, 1) for k, v in answer.timings_ms.items()},
            "tokens": answer.tokens,
            "tokens_per_s": round(answer.tokens_per_s, 1),
            "found": answer.found,
            "stopped": answer.stopped,
            "model": info.get("model", ""),
            "adapters": [
                {"name": a["name"], "scale": a["scale"]} for a in info.get("adapters", [])
            ],
            "passages": list(passages),  # a copy typed list[JSON] (lists are invariant)
            "support": [x.to_json() for x in answer.support],
            "grounding": answer.grounding,
        }
        if info.get("indexing"):
            meta["indexing"] = info.get("indexing", "")
        try:
            key = self.chats.add_message(
                pending.chat_id, "assistant", answer.text, answer.citations, meta
            )
        except FolioError:  # the chat was deleted while the answer was being written
            key = -pending.request_id
        except apsw.Error as exc:  # the library could not be written: shown, not saved
            log.warning("could not save the answer: %s", exc)
            emit(self.error, "The answer is shown but could not be saved: the library is busy.")
            key = -pending.request_id
        if self.chat_id == pending.chat_id:
            cited = [citation_dict(c) for c in answer.citations]
            self._answers[key] = {
                "passages": passages,
                "cited": cited,
                "question": pending.question,
                "support": json_objects(meta.get("support", [])),
            }
            self.view.end_answer(key, answer.text, meta, cited)
            self.show_sources(key)
        self._refresh_history()
        return key

    def _on_failed(self, request_id: int, message: str) -> None:
        self.in_flight.discard(request_id)
        self._detached.pop(request_id, None)
        if self.closed or self.pending is None or self.pending.request_id != request_id:
            return
        self._grace.stop()
        pending = self._finish()
        if pending is not None and self.chat_id == pending.chat_id:
            self.view.end_answer(-request_id, f"**Couldn't answer.** {message}", None)
        emit(self.answer_failed, request_id, message)

    # -- sources ---------------------------------------------------------------------------
    def show_sources(self, key: int, select: int | None = None) -> None:
        data = self._answers.get(key)
        if data is None:
            return
        self.sources.show_sources(
            key, data["passages"], data["cited"], data["question"], select, data["support"]
        )

    def show_citation(self, key: int, n: int) -> None:
        """A click on `[n]` in answer `key`: show that passage in the sources panel."""
        if self.sources.key != key:
            self.show_sources(key, n)
        if not self.sources.select(n):
            emit(self.notice, f"Source [{n}] is not among this answer's passages.")

    def shutdown(self) -> None:
        self.closed = True
        if self.pending is not None:
            self.pending.token.cancel()
        self.host.stop()
