"""Live sync: watch indexed folders and keep the library in step as files change.

watchdog (Apache-2.0; inotify, FSEvents, ReadDirectoryChangesW) reports events on its own
thread; `ChangeCollector` gathers them per indexed folder and debounces them (an editor's
save is several events; a copy of many files is hundreds). When a folder has been quiet
for `debounce_s` (or `max_delay_s` after its first event), its changes are applied with
`Indexer.sync`: a rename costs no embedding, a deletion goes at once, an edit re-embeds
only the chunks whose text changed. `watch` runs the loop for `folio watch`, after a
reconcile of every folder with the disk (changes made while Folio was closed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from desktop.cancel import CancelToken
from desktop.ingest.ignore_rules import IGNORE_FILES
from desktop.ingest.kinds import SUPPORTED_SUFFIXES
from desktop.library.indexer import Changes, Indexer, IndexReport

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.3
MAX_DELAY_S = 1.0


@dataclass
class _Pending:
    changes: Changes = field(default_factory=Changes)
    first: float = 0.0
    last: float = 0.0


class ChangeCollector:
    """Thread-safe gathering of file events per indexed folder, with debouncing.

    Args:
        roots: the indexed folders.
        exclude: paths whose events are ignored (the library's own files).
    """

    def __init__(
        self,
        roots: Iterable[Path],
        exclude: Iterable[Path] = (),
        debounce_s: float = DEBOUNCE_S,
        max_delay_s: float = MAX_DELAY_S,
    ) -> None:
        self.roots = sorted({Path(r) for r in roots}, key=lambda p: len(p.parts), reverse=True)
        self.exclude = [str(p) for p in exclude]
        self.debounce_s = debounce_s
        self.max_delay_s = max_delay_s
        self._lock = threading.Lock()
        self._pending: dict[Path, _Pending] = {}
        self.wakeup = threading.Event()

    def add(self, event: FileSystemEvent) -> None:
        """Record one watchdog event (called on the observer's thread)."""
        src = Path(_text(event.src_path))
        dest = Path(_text(event.dest_path)) if event.dest_path else None
        if any(str(p).startswith(x) for x in self.exclude for p in (src, dest) if p):
            return
        if event.event_type in ("opened", "closed_no_write"):
            return
        root = self._root_of(dest or src) or self._root_of(src)
        if root is None:
            return
        with self._lock:
            pending = self._pending.setdefault(root, _Pending(first=time.monotonic()))
            pending.last = time.monotonic()
            self._apply(pending.changes, event, src, dest)
        self.wakeup.set()

    def _apply(
        self, changes: Changes, event: FileSystemEvent, src: Path, dest: Path | None
    ) -> None:
        kind = event.event_type
        if src.name in IGNORE_FILES or (dest is not None and dest.name in IGNORE_FILES):
            changes.rescan = True  # new rules can include or exclude anything below
            return
        if event.is_directory:
            if kind == "deleted":
                changes.deleted.add(src)
            elif kind == "moved" and dest is not None:
                changes.moved.append((src, dest))
            elif kind == "created":
                changes.rescan = True  # files made inside a new folder may have no events
            return
        if kind == "deleted":
            changes.deleted.add(src)
            changes.changed.discard(src)
        elif kind == "moved" and dest is not None:
            if _wanted(src) or _wanted(dest):
                changes.moved.append((src, dest))
                changes.changed.discard(src)
        elif _wanted(src):
            changes.changed.add(src)
            changes.deleted.discard(src)

    def _root_of(self, path: Path) -> Path | None:
        for root in self.roots:
            if path == root or root in path.parents:
                return root
        return None

    def due_in(self) -> float | None:
        """Seconds until some folder's changes are due (0: now), None if nothing waits."""
        now = time.monotonic()
        with self._lock:
            waits = [
                max(0.0, min(p.last + self.debounce_s, p.first + self.max_delay_s) - now)
                for p in self._pending.values()
            ]
        return min(waits) if waits else None

    def take_due(self) -> dict[Path, Changes]:
        """Remove and return the changes of every folder that is due."""
        now = time.monotonic()
        with self._lock:
            due = [
                root
                for root, p in self._pending.items()
                if now >= min(p.last + self.debounce_s, p.first + self.max_delay_s)
            ]
            taken = {root: self._pending.pop(root).changes for root in due}
            if not self._pending:
                self.wakeup.clear()
        return taken


class _Handler(FileSystemEventHandler):
    def __init__(self, collector: ChangeCollector) -> None:
        self.collector = collector

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self.collector.add(event)
        except Exception:  # an odd event must never stop the observer thread
            log.exception("could not handle file event %s", event)


class FolderWatcher:
    """Runs a watchdog observer over the indexed folders, feeding a ChangeCollector.

    Where the system's native watcher cannot be used (inotify's watch limit reached, a
    network drive), it falls back to polling every two seconds and says so in the log.
    """

    def __init__(self, roots: Iterable[Path], collector: ChangeCollector) -> None:
        self.roots = [Path(r) for r in roots]
        self.collector = collector
        self.observer: BaseObserver | None = None
        self.polling = False

    def start(self) -> None:
        try:
            self.observer = self._start(Observer())
        except OSError as exc:
            log.warning("native folder watching unavailable (%s); polling every 2 s", exc)
            self.polling = True
            self.observer = self._start(PollingObserver(timeout=2))

    def _start(self, observer: BaseObserver) -> BaseObserver:
        handler = _Handler(self.collector)
        for root in self.roots:
            if root.is_dir():
                observer.schedule(handler, str(root), recursive=True)
        observer.start()
        return observer

    def stop(self) -> None:
        if self.observer is not None:
            self.observer.stop()
            self.observer.join(5)
            self.observer = None


def own_files(library: Path) -> list[Path]:
    """What the library writes beside itself, whose events are not the user's changes:
    its files (the database, its WAL, the folder list) and the temporary files the
    folder list is written through (desktop/atomic.py: ".lib.sqlite.folders.json.*.part")."""
    return [library, library.with_name("." + library.name)]


def watch(
    indexer: Indexer,
    roots: list[Path],
    cancel: CancelToken,
    on_sync: Callable[[Path, IndexReport, float], None],
    on_ready: Callable[[IndexReport], None] | None = None,
    debounce_s: float = DEBOUNCE_S,
) -> None:
    """Reconcile `roots` with the disk, then apply changes as they happen until cancelled.

    Args:
        on_sync: called after each sync with the folder, its report and the seconds from
            the folder's first event to the sync's end.
        on_ready: called once the startup reconcile is done and the watcher runs.
    """
    library_path = indexer.library.path
    collector = ChangeCollector(roots, own_files(library_path), debounce_s=debounce_s)
    watcher = FolderWatcher(roots, collector)
    watcher.start()  # before the reconcile, so nothing changed during it is missed
    try:
        report = indexer.index(roots, cancel=cancel)
        if on_ready is not None:
            on_ready(report)
        while True:
            cancel.check()
            wait = collector.due_in()
            if wait is None:
                collector.wakeup.wait(0.5)
                continue
            if wait > 0:
                time.sleep(min(wait, 0.5))
                continue
            for root, changes in collector.take_due().items():
                started = time.monotonic()
                result = indexer.sync(root, changes, cancel=cancel)
                on_sync(root, result, time.monotonic() - started)
    finally:
        watcher.stop()


def _wanted(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def _text(path: str | bytes) -> str:
    return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path
