"""Indexing jobs: a queue in front of the index worker, the sidebar kept in step with the DB,
and live sync: the library's folders are watched, and changes queue quiet background jobs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from desktop.cancel import CancelToken
from desktop.library.compact import CompactReport
from desktop.library.indexer import IndexProgress
from desktop.library.store import Library
from desktop.library.sync import ChangeCollector, FolderWatcher
from desktop.session import Session
from desktop.ui.index_worker import IndexWorker
from desktop.ui.library_sidebar import LibrarySidebar
from desktop.ui.qtcompat import emit
from desktop.ui.workers import WorkerHost

log = logging.getLogger(__name__)

REFRESH_MS = 1000  # folder counts are re-read this often while a job runs (or is paused)
LIVE_REFRESH_S = 0.5  # and at most this often as progress arrives
WATCH_POLL_MS = 150  # how often debounced file changes are checked for


@dataclass
class Job:
    id: int
    paths: list[str]
    token: CancelToken = field(default_factory=CancelToken)
    running: bool = False
    progress: IndexProgress | None = None
    background: bool = False  # started by the folder watcher: no progress box


# Said when a question or a second compaction is asked for while one runs.
COMPACTING = "The library is being compacted; ask again when it is done."


class LibraryController(QObject):
    """Queues indexing and removal for the index worker and shows their progress."""

    job_progress = Signal(int, IndexProgress)  # job id, its newest snapshot
    job_finished = Signal(int, object)  # job id, IndexReport
    job_ended = Signal(int, str)  # job id, "done" | "cancelled" | "failed"
    library_changed = Signal()
    error = Signal(str)  # message for the user
    notice = Signal(str)  # status-bar line
    compacting_changed = Signal(bool)  # a compaction started (True) or ended (False)

    _index = Signal(int, object, object)
    _remove = Signal(int)
    _compact = Signal()

    def __init__(self, sidebar: LibrarySidebar, session: Session) -> None:
        super().__init__()
        self.sidebar = sidebar
        self.session = session
        self.library: Library = session.library  # the GUI thread's connection
        self.worker = IndexWorker(session)
        self.host = WorkerHost(self.worker, "folio-index")
        self._index.connect(self.worker.index)
        self._remove.connect(self.worker.remove)
        self._compact.connect(self.worker.compact)
        w = self.worker
        w.job_started.connect(self._on_started)
        w.progress_ready.connect(self._on_progress_ready)
        w.job_finished.connect(self._on_finished)
        # Only bound methods of this (GUI-thread) object: PySide runs a lambda connected to
        # a worker's signal on the worker's thread.
        w.job_cancelled.connect(self._on_cancelled)
        w.job_failed.connect(self._on_failed)
        w.folder_removed.connect(self._on_removed)
        w.remove_failed.connect(self._on_remove_failed)
        w.compacted.connect(self._on_compacted)
        w.compact_failed.connect(self._on_compact_failed)
        self.jobs: dict[int, Job] = {}
        self.closed = False  # after shutdown, late worker signals are ignored
        self._last_refresh = 0.0
        self._next_id = 0
        self._removing: set[int] = set()
        self.compacting = False  # a compaction queued or running (File → Compact library)
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(REFRESH_MS)
        self.refresh_timer.timeout.connect(self.refresh)
        self.watcher: FolderWatcher | None = None
        self.collector: ChangeCollector | None = None
        self.watch_timer = QTimer(self)
        self.watch_timer.setInterval(WATCH_POLL_MS)
        self.watch_timer.timeout.connect(self._sync_due)
        sidebar.progress.pause_toggled.connect(self.set_paused)
        sidebar.progress.cancel_requested.connect(self.cancel_running)
        sidebar.reindex_requested.connect(lambda path: self.index_paths([Path(path)]))
        self.refresh()
        if self.watcher is not None and self.sidebar.watched:
            # Reconcile with the disk: files changed while Folio was closed.
            self.index_paths([Path(p) for p in sorted(self.sidebar.watched)], background=True)

    # -- queries ---------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    def running_job(self) -> Job | None:
        return next((j for j in self.jobs.values() if j.running), None)

    def refresh(self) -> None:
        """Re-read folder counts and failures from the library and redraw the sidebar."""
        if self.closed:
            return
        self._last_refresh = time.monotonic()
        try:
            statuses = self.library.status()
        except Exception as exc:  # noqa: BLE001 - a busy database must not break the window
            log.warning("could not read library status: %s", exc)
            return
        states: dict[str, str] = {}
        pending: list[str] = []
        for job in self.jobs.values():
            for path in job.paths:
                states[path] = "indexing…" if job.running else "queued"
                pending.append(path)
        for status in statuses:
            if status.id in self._removing:
                states[status.path] = "removing…"
            for path in list(states):
                if path != status.path and Path(status.path) in Path(path).parents:
                    states.setdefault(status.path, states[path])  # a file inside the folder
        self._watch({s.path for s in statuses})
        self.sidebar.set_folders(
            statuses, states, [p for p in pending if not _covered(p, statuses)]
        )

    # -- live sync -------------------------------------------------------------------------
    def _watch(self, folders: set[str]) -> None:
        """Watch exactly the library's folders (none when Settings turn watching off)."""
        wanted = frozenset(folders if self.session.settings.watch_folders else ())
        if wanted == self.sidebar.watched and (self.watcher is not None or not wanted):
            return
        self._stop_watching()
        self.sidebar.watched = wanted
        if not wanted:
            return
        roots = [Path(p) for p in sorted(wanted) if Path(p).is_dir()]
        self.collector = ChangeCollector(roots, [self.library.path])
        self.watcher = FolderWatcher(roots, self.collector)
        try:
            self.watcher.start()
        except OSError as exc:  # a folder vanished between the check and the watch
            log.warning("cannot watch %s: %s", roots, exc)
            self.watcher = None
            return
        self.watch_timer.start()

    def _stop_watching(self) -> None:
        self.watch_timer.stop()
        if self.watcher is not None:
            self.watcher.stop()
        self.watcher = None
        self.collector = None

    def _sync_due(self) -> None:
        """Queue a quiet job for each watched folder whose changes have settled."""
        if self.collector is None or self.closed or self.collector.due_in() != 0:
            return
        queued = {p for j in self.jobs.values() if j.background and not j.running for p in j.paths}
        for root in self.collector.take_due():
            if str(root) not in queued:
                self.index_paths([root], background=True)

    # -- commands --------------------------------------------------------------------------
    def index_paths(self, paths: Iterable[Path], background: bool = False) -> int | None:
        """Queue files and folders for indexing; returns the job id (None if nothing to do).

        A background job (the watcher's) shows no progress box and no notice unless it
        changed something.
        """
        clean: list[str] = []
        for p in paths:
            path = Path(p).expanduser()
            if not path.exists():
                if background:  # a watched folder that went away: its row says so
                    log.info("not syncing %s: it no longer exists", path)
                else:
                    emit(self.error, f"{path} does not exist.")
                continue
            clean.append(str(path.resolve()))
        if not clean:
            return None
        self._next_id += 1
        job = Job(self._next_id, list(dict.fromkeys(clean)), background=background)
        self.jobs[job.id] = job
        if not background and not self.sidebar.progress.isVisibleTo(self.sidebar):
            self.sidebar.progress.start(_title(job.paths))
        emit(self._index, job.id, job.paths, job.token)
        if not self.refresh_timer.isActive():
            self.refresh_timer.start()
        self.refresh()
        return job.id

    def remove_folder(self, folder_id: int) -> None:
        self._removing.add(folder_id)
        emit(self._remove, folder_id)
        self.refresh()

    def set_paused(self, paused: bool) -> None:
        job = self.running_job()
        if job is None:
            return
        if paused:
            job.token.pause()
        else:
            job.token.resume()
        if job.progress is not None:
            self.sidebar.progress.update_progress(job.progress, len(self.jobs) - 1)

    def cancel_running(self) -> None:
        """Cancel the running job and every queued one (work already stored is kept)."""
        for job in self.jobs.values():
            job.token.cancel()

    def shutdown(self) -> None:
        self.closed = True
        self._stop_watching()
        self.refresh_timer.stop()
        self.cancel_running()
        if self.compacting:  # stop it rather than wait minutes: each step is all or nothing
            self.worker.interrupt()
        self.host.stop()

    # -- worker events ---------------------------------------------------------------------
    def _on_started(self, job_id: int) -> None:
        job = self.jobs.get(job_id)
        if job is None or self.closed:
            return
        job.running = True
        if not job.background:
            self.sidebar.progress.start(_title(job.paths))
        self.refresh()

    def _on_progress_ready(self, _job_id: int) -> None:
        latest = self.worker.take_progress()
        if latest is not None:
            self._on_progress(*latest)

    def _on_progress(self, job_id: int, progress: IndexProgress) -> None:
        job = self.jobs.get(job_id)
        if job is None or self.closed:
            return
        job.progress = progress
        if not job.background:
            self.sidebar.progress.update_progress(progress, len(self.jobs) - 1)
        if time.monotonic() - self._last_refresh >= LIVE_REFRESH_S:
            self.refresh()  # the folder counts grow as documents are stored
        emit(self.job_progress, job_id, progress)

    def _on_finished(self, job_id: int, report: object) -> None:
        if self.closed:
            return
        failed = len(getattr(report, "failed", []))
        added = getattr(report, "added", 0) + getattr(report, "updated", 0)
        gone = getattr(report, "removed", 0) + getattr(report, "renamed", 0)
        job = self.jobs.get(job_id)
        if job is None or not job.background or added or gone or failed:
            emit(
                self.notice,
                f"Indexed {added} new or changed documents"
                + (f", {gone} removed or renamed" if gone else "")
                + (f"; {failed} could not be read" if failed else "")
                + ".",
            )
        emit(self.job_finished, job_id, report)
        self._end(job_id, "done")

    def _on_cancelled(self, job_id: int) -> None:
        self._end(job_id, "cancelled")

    def _on_remove_failed(self, message: str) -> None:
        if not self.closed:
            emit(self.error, message)

    def _on_failed(self, job_id: int, message: str) -> None:
        if self.closed:
            return
        emit(self.error, message)
        self._end(job_id, "failed")

    def _end(self, job_id: int, how: str) -> None:
        self.jobs.pop(job_id, None)
        if self.closed:
            return
        if how == "cancelled":
            emit(self.notice, "Indexing cancelled; documents already indexed were kept.")
        if not any(not j.background for j in self.jobs.values()):
            self.sidebar.progress.hide()
        if not self.jobs:
            self.refresh_timer.stop()
        self.refresh()
        emit(self.library_changed)
        emit(self.job_ended, job_id, how)

    def compact_library(self) -> None:
        """File → Compact library: the file gives back what deletions left, after any
        indexing under way. Nothing can be written to the library meanwhile (a minute or
        two at a million chunks): the window holds new questions until it is done."""
        if self.compacting:
            emit(self.notice, COMPACTING)
            return
        self.compacting = True
        emit(self.compacting_changed, True)  # the window says so until it ends
        emit(self._compact)

    def _on_compacted(self, report: CompactReport) -> None:
        self.compacting = False
        if self.closed:
            return
        emit(self.compacting_changed, False)
        emit(self.notice, f"Library compacted in {report.summary()}.")
        self.refresh()
        emit(self.library_changed)

    def _on_compact_failed(self, message: str) -> None:
        self.compacting = False
        if not self.closed:
            emit(self.compacting_changed, False)
            emit(self.error, message)

    def _on_removed(self, folder_id: int) -> None:
        if self.closed:
            return
        self._removing.discard(folder_id)
        emit(self.notice, "Folder removed from the library; its files were not touched.")
        self.refresh()
        emit(self.library_changed)


def _covered(path: str, statuses: Iterable[object]) -> bool:
    target = Path(path)
    for status in statuses:
        root = Path(getattr(status, "path", ""))
        if target == root or root in target.parents:
            return True
    return False


def _title(paths: list[str]) -> str:
    names = ", ".join(Path(p).name for p in paths[:2])
    more = f" and {len(paths) - 2} more" if len(paths) > 2 else ""
    return f"Indexing {names}{more}"
