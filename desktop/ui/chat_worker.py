"""The chat worker: the one thread that owns the llama.cpp engine and answers questions.

Every ask, adapter switch and model change is a queued call into this object, so llama.cpp
is only ever touched from its thread. Stopping an answer needs no call at all: the caller
sets the CancelToken it passed with the question, and the engine checks it between tokens.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TypedDict

from PySide6.QtCore import QObject, Signal, Slot

from desktop.adapters import AdapterInfo, check_compatibility, discover, install_adapter
from desktop.cancel import CancelToken
from desktop.engine.api import ChatEngine
from desktop.errors import ModelError
from desktop.rag.answer import Answer
from desktop.rag.prompt import SYSTEM_PROMPT
from desktop.session import Session
from desktop.train.sidecar import effect_line
from desktop.ui.engine_rows import server_rows
from desktop.ui.qtcompat import emit
from desktop.ui.workers import user_message

log = logging.getLogger(__name__)


class ModelInfo(TypedDict, total=False):
    """The loaded chat model, as `ChatWorker.ready` sends it: every key once a model is
    loaded, {} while none is."""

    id: str
    name: str
    path: str
    load_s: float
    where: str  # where answers are computed: "This computer" or "server: HOST"
    scalable: bool  # False: the engine applies adapters on or off, with no strength


class AppliedAdapter(TypedDict):
    """An adapter applied to the resident model, as `ChatWorker.adapters_applied` lists it."""

    name: str
    scale: float


class AdapterRow(TypedDict):
    """An installed adapter judged against the loaded model (`ChatWorker.adapters_listed`)."""

    name: str
    info: AdapterInfo
    ok: bool
    reason: str  # why it fits, or why it cannot be used
    description: str
    effect: str  # its measured effect ("" if never measured)


class _AnswerInfo(TypedDict):
    model: str  # display name
    adapters: list[AppliedAdapter]


class AnswerInfo(_AnswerInfo, total=False):
    """What an answer was written with, sent beside it (`ChatWorker.answered`)."""

    confirmed: bool  # False: closed on Stop before the worker confirmed it
    indexing: str  # "still indexing: 40 % embedded ..." while the library lacks vectors


class ChatWorker(QObject):
    """Answers questions on its own thread. Drive it only through queued signals."""

    loading = Signal(str)  # what is being loaded, for the status bar
    ready = Signal(ModelInfo)  # id, name, path of the loaded model
    model_failed = Signal(str)  # the model could not be loaded: why
    token = Signal(int, str)  # request id, piece of text
    answered = Signal(int, Answer, AnswerInfo)  # request id, the answer, what wrote it
    failed = Signal(int, str)  # request id, message for the user
    adapters_listed = Signal(list)  # list[AdapterRow]
    adapters_applied = Signal(list)  # list[AppliedAdapter] (empty: none)
    adapter_failed = Signal(str)
    adapter_added = Signal(str)  # the name of an adapter copied into the user's folder

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        # Set on this worker's thread once loaded; other threads read it only to look.
        self.engine: ChatEngine | None = None
        self.model_info: ModelInfo = {}
        self.adapters: list[AppliedAdapter] = []
        self.asks = 0

    # -- model -----------------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
        """Load the model, the embedder and the library connection of this thread."""
        threading.current_thread().name = "folio-chat"  # for the log
        self._load()

    def _model_name(self) -> tuple[str, str]:
        """(id, display name) of the chat model the settings name."""
        model_id = self.session.settings.chat_model
        try:
            return model_id, self.session.model_spec("chat").name
        except ModelError:
            return model_id, model_id  # a registered engine outside the catalog

    def _load(self) -> None:
        self.engine = None
        try:
            model_id, name = self._model_name()
            emit(self.loading, f"Loading {name}…")
            started = time.perf_counter()
            self.engine = self.session.engine
            _ = self.session.answerer  # the searcher and the embedder load now, too
            about = self.engine.info
            self.model_info = {
                "id": model_id,
                "name": about.model if self.session.settings.engine_url else name,
                "path": str(self.engine.model_path),
                "load_s": round(time.perf_counter() - started, 2),
                "where": about.where,
                "scalable": about.scalable,
            }
        except BaseException as exc:  # noqa: BLE001 - shown in the window, never raised
            self.engine = None
            self.model_info = {}
            emit(self.model_failed, user_message(exc, self.session.config))
            return
        log.info("chat model ready: %s", self.model_info)
        # The session starts the engine on the default style (Settings.style), if it fits.
        self.adapters = [
            {"name": name, "scale": float(scale)} for name, scale in self.engine.active_adapters
        ]
        emit(self.ready, self.model_info.copy())
        emit(self.adapters_applied, [a.copy() for a in self.adapters])
        self.list_adapters()

    @Slot()
    def warm(self) -> None:
        """Evaluate the system prompt now, so the next question only prefills its own part.

        The window asks for this when the user starts typing a question; it costs nothing
        when the prompt prefix is already in the context.
        """
        if self.engine is None:
            return
        try:
            self.engine.warm_prefix([{"role": "system", "content": SYSTEM_PROMPT}])
        except Exception:  # noqa: BLE001 - only a speed-up: the answer path works without it
            log.warning("warming the prompt prefix failed", exc_info=True)

    @Slot()
    def apply_settings(self) -> None:
        """The session's settings changed: reload the model only if they changed it."""
        if self.engine is None or not self.session.engine_is_current():
            self._load()

    # -- questions -------------------------------------------------------------------------
    @Slot(int, str, object, object)
    def ask(
        self, request_id: int, question: str, history: list[dict[str, str]], cancel: CancelToken
    ) -> None:
        quoting = self.session.settings.answer_mode == "quote"  # needs no model
        if self.engine is None and not quoting:
            emit(
                self.failed,
                request_id,
                "The language model is not loaded, so Folio cannot "
                "answer yet. Check the model in the toolbar or in Settings.",
            )
            return
        if cancel.cancelled:
            emit(self.failed, request_id, "Stopped before it started.")
            return
        self.asks += 1
        used = [] if quoting else [a.copy() for a in self.adapters]
        try:
            answer = self.session.answerer.ask(
                question,
                on_token=lambda piece: emit(self.token, request_id, piece),
                cancel=cancel,
                history=history,
            )
        except BaseException as exc:  # noqa: BLE001
            emit(self.failed, request_id, user_message(exc, self.session.config))
            return
        model = "" if quoting else self.model_info.get("name", "")
        info: AnswerInfo = {"model": model, "adapters": used}
        embedding = self.session.library.embedding()  # answered from what is embedded so far
        if not embedding.done:
            info["indexing"] = embedding.note()
        emit(self.answered, request_id, answer, info)

    # -- adapters --------------------------------------------------------------------------
    @Slot()
    def list_adapters(self) -> None:
        """Find installed adapters and judge each against the loaded model."""
        if self.engine is None:
            emit(self.adapters_listed, [])
            return
        where = self.session.locations
        rows: list[AdapterRow] = []
        if self.session.settings.engine_url:  # the adapters the server holds
            emit(self.adapters_listed, server_rows(self.engine.info, where.adapter_dirs))
            return
        try:
            for info in discover(where.adapter_dirs):
                verdict = check_compatibility(info, self.engine.model_path, where.cache_dir)
                rows.append(
                    {
                        "name": info.name,
                        "info": info,
                        "ok": verdict.ok,
                        "reason": verdict.reason,
                        "description": info.description,
                        "effect": effect_line(info.path, where.user_adapters_dir),
                    }
                )
        except BaseException as exc:  # noqa: BLE001
            emit(self.adapter_failed, user_message(exc, self.session.config))
        emit(self.adapters_listed, rows)

    @Slot(str)
    def add_adapter(self, path: str) -> None:
        """Check an adapter file against the loaded model and copy it into the user's folder."""
        where = self.session.locations
        model = self.engine.model_path if self.engine is not None else None
        try:
            info = install_adapter(Path(path), where.user_adapters_dir, model, where.cache_dir)
        except BaseException as exc:  # noqa: BLE001 - shown in the window, never raised
            emit(self.adapter_failed, user_message(exc, self.session.config))
            return
        emit(self.adapter_added, info.name)
        self.list_adapters()

    @Slot(list)
    def set_adapters(self, choices: list[tuple[AdapterInfo, float]]) -> None:
        """Apply adapters (an empty list removes them) on the resident model, no reload."""
        if self.engine is None:
            emit(self.adapter_failed, "The model is not loaded yet.")
            return
        try:
            self.engine.set_adapters([(info, float(scale)) for info, scale in choices])
        except BaseException as exc:  # noqa: BLE001
            emit(self.adapter_failed, user_message(exc, self.session.config))
            emit(self.adapters_applied, [a.copy() for a in self.adapters])
            return
        self.adapters = [
            {"name": name, "scale": float(scale)} for name, scale in self.engine.active_adapters
        ]
        log.info("adapters now %s", self.adapters)
        emit(self.adapters_applied, [a.copy() for a in self.adapters])

    # -- shutdown --------------------------------------------------------------------------
    @Slot()
    def shutdown(self) -> None:
        """Free the model and the connection of this thread, then end the thread."""
        self.engine = None
        try:
            self.session.release_thread()
        except Exception:  # noqa: BLE001 - closing must not stop the thread from ending
            log.exception("closing the chat thread's parts failed")
        self.thread().quit()
