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
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from desktop.adapters import AdapterInfo, check_compatibility, discover
from desktop.cancel import CancelToken
from desktop.library.search import Searcher
from desktop.rag.answer import Answerer
from desktop.rag.prompt import SYSTEM_PROMPT
from desktop.session import Session
from desktop.settings import Settings
from desktop.ui.qtcompat import emit
from desktop.ui.workers import BIND_LOCK, SharedModels, user_message

log = logging.getLogger(__name__)

# What reloading the model depends on; other settings apply to the running answerer.
_ENGINE_SETTINGS = ("chat_model", "models_dir", "threads", "gpu_layers")


class ChatWorker(QObject):
    """Answers questions on its own thread. Drive it only through queued signals."""

    loading = Signal(str)  # what is being loaded, for the status bar
    ready = Signal(object)  # dict: id, name, path of the loaded model
    model_failed = Signal(str)  # the model could not be loaded: why
    token = Signal(int, str)  # request id, piece of text
    answered = Signal(int, object, object)  # request id, Answer, dict(model, adapters)
    failed = Signal(int, str)  # request id, message for the user
    adapters_listed = Signal(object)  # list of dicts: name, info, ok, reason
    adapters_applied = Signal(object)  # list of dicts: name, scale (empty: none)
    adapter_failed = Signal(str)

    def __init__(self, library_path: Path, settings: Settings, shared: SharedModels) -> None:
        super().__init__()
        self.library_path = library_path
        self.settings = settings
        self.shared = shared
        self.session: Session | None = None
        self.answerer: Answerer | None = None
        self.model_info: dict[str, Any] = {}
        self.adapters: list[dict[str, Any]] = []
        self.asks = 0

    # -- model -----------------------------------------------------------------------------
    @property
    def engine(self) -> Any:
        """The loaded Engine (None before loading); read it from other threads only to look."""
        return None if self.session is None else self.session.__dict__.get("engine")

    @Slot()
    def start(self) -> None:
        """Load the model, the embedder and the library connection of this thread."""
        threading.current_thread().name = "folio-chat"  # for the log
        self._load(self.settings)

    def _load(self, settings: Settings) -> None:
        self._close_engine()
        self.settings = settings
        try:
            session = Session(self.library_path, settings)
            spec = session.model_spec("chat")
            emit(self.loading, f"Loading {spec.name}…")
            started = time.perf_counter()
            engine = session.engine
            embedder = self.shared.embedder()
            with BIND_LOCK:
                searcher = Searcher(session.library, embedder)
            self.session = session
            self.answerer = Answerer(
                searcher,
                engine,
                k=settings.k,
                mode=settings.search_mode,  # type: ignore[arg-type]
                max_tokens=settings.max_answer_tokens,
            )
            self.model_info = {
                "id": spec.id,
                "name": spec.name,
                "path": str(engine.model_path),
                "load_s": round(time.perf_counter() - started, 2),
            }
        except BaseException as exc:  # noqa: BLE001 - shown in the window, never raised
            self.model_info = {}
            emit(self.model_failed, user_message(exc))
            return
        log.info("chat model ready: %s", self.model_info)
        self.adapters = []
        emit(self.ready, dict(self.model_info))
        emit(self.adapters_applied, [])
        self.list_adapters()

    @Slot()
    def warm(self) -> None:
        """Evaluate the system prompt now, so the next question only prefills its own part.

        The window asks for this when the user starts typing a question; it costs nothing
        when the prompt prefix is already in the context.
        """
        engine = self.engine
        if engine is None or not hasattr(engine, "warm_prefix"):
            return
        try:
            engine.warm_prefix([{"role": "system", "content": SYSTEM_PROMPT}])
        except Exception:  # noqa: BLE001 - only a speed-up: the answer path works without it
            log.warning("warming the prompt prefix failed", exc_info=True)

    @Slot(object)
    def apply_settings(self, settings: Settings) -> None:
        """Use new settings: reload the model only if something it depends on changed."""
        old = self.settings
        if self.answerer is None or any(
            getattr(old, name) != getattr(settings, name) for name in _ENGINE_SETTINGS
        ):
            self._load(settings)
            return
        self.settings = settings
        self.answerer.k = settings.k
        self.answerer.mode = settings.search_mode  # type: ignore[assignment]
        self.answerer.max_tokens = settings.max_answer_tokens

    # -- questions -------------------------------------------------------------------------
    @Slot(int, str, object, object)
    def ask(
        self, request_id: int, question: str, history: list[dict[str, str]], cancel: CancelToken
    ) -> None:
        if self.answerer is None:
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
        used = [dict(a) for a in self.adapters]
        try:
            answer = self.answerer.ask(
                question,
                on_token=lambda piece: emit(self.token, request_id, piece),
                cancel=cancel,
                history=history,
            )
        except BaseException as exc:  # noqa: BLE001
            emit(self.failed, request_id, user_message(exc))
            return
        emit(
            self.answered,
            request_id,
            answer,
            {"model": self.model_info.get("name", ""), "adapters": used},
        )

    # -- adapters --------------------------------------------------------------------------
    @Slot()
    def list_adapters(self) -> None:
        """Find installed adapters and judge each against the loaded model."""
        if self.engine is None:
            emit(self.adapters_listed, [])
            return
        rows = []
        try:
            for info in discover():
                verdict = check_compatibility(info, self.engine.model_path)
                rows.append(
                    {
                        "name": info.name,
                        "info": info,
                        "ok": verdict.ok,
                        "reason": verdict.reason,
                        "description": info.description,
                    }
                )
        except BaseException as exc:  # noqa: BLE001
            emit(self.adapter_failed, user_message(exc))
        emit(self.adapters_listed, rows)

    @Slot(object)
    def set_adapters(self, choices: list[tuple[AdapterInfo, float]]) -> None:
        """Apply adapters (an empty list removes them) on the resident model, no reload."""
        if self.engine is None:
            emit(self.adapter_failed, "The model is not loaded yet.")
            return
        try:
            self.engine.set_adapters([(info, float(scale)) for info, scale in choices])
        except BaseException as exc:  # noqa: BLE001
            emit(self.adapter_failed, user_message(exc))
            emit(self.adapters_applied, [dict(a) for a in self.adapters])
            return
        self.adapters = [
            {"name": name, "scale": float(scale)} for name, scale in self.engine.active_adapters
        ]
        log.info("adapters now %s", self.adapters)
        emit(self.adapters_applied, [dict(a) for a in self.adapters])

    # -- shutdown --------------------------------------------------------------------------
    def _close_engine(self) -> None:
        session, self.session, self.answerer = self.session, None, None
        if session is not None:
            try:
                session.close()
            except Exception:  # noqa: BLE001 - closing must not stop the next load
                log.exception("closing the chat session failed")

    @Slot()
    def shutdown(self) -> None:
        """Free the model and the connection on this thread, then end the thread."""
        self._close_engine()
        self.thread().quit()
