"""Threads for long work: shared models, a host for long-lived workers, error translation.

Each worker object lives on its own QThread and is driven by queued signals, so its slots run
one at a time on that thread. Each worker thread opens its own `Library` (SQLite in WAL mode
lets them read side by side); the embedder and tokenizer are loaded once and shared.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, Signal

from desktop.cancel import CancelToken
from desktop.errors import Cancelled, FolioError
from desktop.models.pull import pull
from desktop.session import Session
from desktop.settings import Settings
from desktop.ui.diagnostics import log_path
from desktop.ui.qtcompat import emit

log = logging.getLogger(__name__)

# Creating an Indexer or a Searcher binds the embedder to the library (a check-then-insert
# in `meta`); two threads doing it at once on a new library would both insert.
BIND_LOCK = threading.Lock()


def user_message(exc: BaseException) -> str:
    """What to tell the user about `exc`. Anything but a FolioError is a bug: log it in full."""
    if isinstance(exc, FolioError):
        return str(exc)
    log.error("unexpected error", exc_info=exc)
    return (
        f"Something went wrong inside Folio ({type(exc).__name__}). The details were "
        f"written to the log file {log_path()}; Help → Copy diagnostics gathers them."
    )


class SharedModels:
    """The embedder and tokenizer, loaded once on first use by whichever thread needs them."""

    def __init__(self, library_path: Path, settings: Settings) -> None:
        self._session = Session(library_path, settings)
        self._lock = threading.Lock()

    def embedder(self) -> Any:
        with self._lock:
            return self._session.embedder

    def tokenizer(self) -> Any:
        with self._lock:
            return self._session.tokenizer


class WorkerHost:
    """Runs one worker QObject on its own long-lived QThread and stops it cleanly."""

    def __init__(self, worker: QObject, name: str) -> None:
        self.worker = worker
        self.thread = QThread()
        self.thread.setObjectName(name)
        worker.moveToThread(self.thread)
        self.thread.start()

    def stop(self, timeout_ms: int = 10_000) -> bool:
        """Queue the worker's `shutdown` slot (it frees its resources and quits the thread)
        after the work already queued, and wait; True if the thread ended in time."""
        if self.thread.isRunning():
            QMetaObject.invokeMethod(self.worker, "shutdown", Qt.ConnectionType.QueuedConnection)
        done = bool(self.thread.wait(timeout_ms))
        if not done:
            # Destroying a running QThread aborts the process: wait for the slot to return
            # (cancelled work ends at its next check; a long prompt prefill cannot be cut).
            log.warning(
                "worker thread %s did not stop within %d ms; waiting for it",
                self.thread.objectName(),
                timeout_ms,
            )
            self.thread.wait()
        return done


class DownloadThread(QThread):
    """Downloads one catalog model with `desktop.models.pull`, reporting bytes as it goes."""

    progressed = Signal(int, int)  # bytes done, total (0 when unknown)
    succeeded = Signal(str)  # installed path
    failed = Signal(str)  # message for the user
    cancelled = Signal()

    def __init__(self, spec: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.cancel_token = CancelToken()

    def run(self) -> None:
        def on_progress(done: int, total: int | None) -> None:
            emit(self.progressed, int(done), int(total or 0))

        try:
            path = pull(
                self.spec, progress=False, on_progress=on_progress, cancel=self.cancel_token
            )
        except Cancelled:
            emit(self.cancelled)
        except BaseException as exc:  # noqa: BLE001 - reported, never raised into Qt
            emit(self.failed, user_message(exc))
        else:
            emit(self.succeeded, str(path))
