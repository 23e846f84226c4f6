"""The index worker: indexes and removes folders on its own thread, one job at a time.

The core reports progress for every file, often in bursts (a batch of documents is stored
at once). The worker coalesces them: it keeps the latest snapshot and has at most one
`progress_ready` notification queued, so the GUI thread never falls behind and always
reads the newest state, however fast the files go by.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path

import apsw
from PySide6.QtCore import QObject, Signal, Slot

from desktop.cancel import CancelToken
from desktop.errors import Cancelled
from desktop.library.indexer import IndexProgress
from desktop.session import Session
from desktop.ui.qtcompat import emit
from desktop.ui.workers import user_message

log = logging.getLogger(__name__)


class IndexWorker(QObject):
    """Indexes on its own thread. Drive it only through queued signals."""

    job_started = Signal(int)  # job id
    progress_ready = Signal(int)  # job id: call take_progress() for the newest snapshot
    job_finished = Signal(int, object)  # job id, IndexReport
    job_cancelled = Signal(int)
    job_failed = Signal(int, str)  # job id, message for the user
    folder_removed = Signal(int)  # folder id
    remove_failed = Signal(str)
    compacted = Signal(object)  # CompactReport
    compact_failed = Signal(str)

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self._progress_lock = threading.Lock()
        self._latest: tuple[int, IndexProgress] | None = None
        self._compacting: apsw.Connection | None = None  # its connection, while it runs

    def take_progress(self) -> tuple[int, IndexProgress] | None:
        """The newest (job id, progress) snapshot, once; called from the GUI thread."""
        with self._progress_lock:
            latest, self._latest = self._latest, None
        return latest

    def _report(self, job_id: int, state: IndexProgress) -> None:
        snapshot = dataclasses.replace(state)
        with self._progress_lock:
            queued = self._latest is not None
            self._latest = (job_id, snapshot)
        if not queued:
            emit(self.progress_ready, job_id)

    @Slot(int, object, object)
    def index(self, job_id: int, paths: list[str], cancel: CancelToken) -> None:
        """Index `paths` (files or folders) with the session's current chunking settings."""
        threading.current_thread().name = "folio-index"  # for the log
        if cancel.cancelled:
            emit(self.job_cancelled, job_id)
            return
        emit(self.job_started, job_id)

        def on_progress(state: IndexProgress) -> None:
            self._report(job_id, state)

        try:
            indexer = self.session.indexer  # this thread's, on its own connection
            report = indexer.index([Path(p) for p in paths], progress=on_progress, cancel=cancel)
        except Cancelled:
            emit(self.job_cancelled, job_id)
            return
        except BaseException as exc:  # noqa: BLE001 - shown in the window, never raised
            emit(self.job_failed, job_id, user_message(exc, self.session.config))
            return
        log.info(
            "indexed %s: %d added, %d updated, %d failed, %d chunks in %.1f s",
            paths,
            report.added,
            report.updated,
            len(report.failed),
            report.chunks,
            report.seconds,
        )
        emit(self.job_finished, job_id, report)

    @Slot(int)
    def remove(self, folder_id: int) -> None:
        """Forget a folder and its chunks (files on disk are untouched)."""
        try:
            self.session.library.remove_folder(folder_id)
        except BaseException as exc:  # noqa: BLE001
            emit(self.remove_failed, user_message(exc, self.session.config))
            return
        emit(self.folder_removed, folder_id)

    @Slot()
    def compact(self) -> None:
        """Give back the space deletions left (desktop/library/compact.py); queued behind
        any indexing, on this thread's connection."""
        from desktop.library.compact import compact

        db = self.session.library.db
        self._compacting = db
        try:
            report = compact(db, self.session.library_path)
        except BaseException as exc:  # noqa: BLE001 - shown in the window, never raised
            emit(self.compact_failed, user_message(exc, self.session.config))
            return
        finally:
            self._compacting = None
        log.info("compacted the library in %.1f s", report.seconds)
        emit(self.compacted, report)

    def interrupt(self) -> None:
        """Stop a compaction under way (called from the GUI thread: SQLite's interrupt is
        safe from any thread; the step it stops rolls back whole)."""
        db = self._compacting
        if db is not None:
            db.interrupt()

    @Slot()
    def shutdown(self) -> None:
        """Close this thread's connection, then end the thread."""
        try:
            self.session.release_thread()
        except Exception:  # noqa: BLE001 - closing must not stop the thread from ending
            log.exception("closing the index thread's connection failed")
        self.thread().quit()
