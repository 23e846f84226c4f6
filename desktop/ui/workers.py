"""Threads for long work: a host for long-lived workers, downloads, and the error message.

Each worker object lives on its own QThread and is driven by queued signals, so its slots run
one at a time on that thread. The window's one `Session` hands each worker thread its own
parts (its `Library` connection, and the engine on the chat thread); the embedder is loaded
once and shared.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, Signal

from desktop import boundary
from desktop.cancel import CancelToken
from desktop.config import Config
from desktop.errors import Cancelled
from desktop.models.pull import pull
from desktop.models.spec import ModelSpec
from desktop.ui.qtcompat import emit

log = logging.getLogger(__name__)


def user_message(exc: BaseException, config: Config | None = None) -> str:
    """What to tell the user about `exc`, through the core's error boundary (which logs a
    bug's traceback); `config` names the library and the log file in the message."""
    outcome = boundary.classify(
        exc,
        library=config.library_path if config else None,
        log_file=config.locations.log_file if config else None,
    )
    text = outcome.message
    if outcome.kind == "bug":
        text += " Help → Copy diagnostics gathers them."
    return text[:1].upper() + text[1:]


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


class JobThread(QThread):
    """Runs one cancellable job (`work`, which emits the subclass's `succeeded`) on its own
    thread; a job that ends otherwise emits `cancelled`, or `failed` with a message for people."""

    failed = Signal(str)  # message for the user
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cancel_token = CancelToken()

    def work(self) -> None:
        """Do the job, checking `cancel_token`, and emit its result."""
        raise NotImplementedError

    def run(self) -> None:
        try:
            self.work()
        except Cancelled:
            emit(self.cancelled)
        except BaseException as exc:  # noqa: BLE001 - reported, never raised into Qt
            emit(self.failed, user_message(exc))


class DownloadThread(JobThread):
    """Downloads one catalog model with `desktop.models.pull`, reporting bytes as it goes."""

    progressed = Signal(int, int)  # bytes done, total (0 when unknown)
    succeeded = Signal(str)  # installed path

    def __init__(self, spec: ModelSpec, dest: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.dest = dest

    def work(self) -> None:
        def on_progress(done: int, total: int | None) -> None:
            emit(self.progressed, int(done), int(total or 0))

        path = pull(
            self.spec, self.dest, progress=False, on_progress=on_progress, cancel=self.cancel_token
        )
        emit(self.succeeded, str(path))
