"""One indexing run at a time per library, across threads and processes.

An OS file lock (`filelock`: flock on POSIX, LockFileEx on Windows) beside the library file.
The OS releases it when its holder dies, even by kill -9, so a crash never leaves a stale
lock behind. A second indexer waits for the first and says so, instead of embedding
everything a second time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from desktop.cancel import CancelToken

# How often a waiting indexer checks its cancel token.
_POLL_S = 0.25


def lock_path(library: Path) -> Path:
    return library.with_name(library.name + ".indexing")


class IndexLock:
    """Held for the whole of one indexing run (or one sync pass of the watcher)."""

    def __init__(self, library: Path) -> None:
        self.path = lock_path(library)
        # thread_local=False: the lock belongs to the indexer, whichever thread releases it.
        self._lock = FileLock(str(self.path), thread_local=False)

    def acquire(self, cancel: CancelToken, on_wait: Callable[[str], None] | None = None) -> None:
        """Take the lock, waiting (cancellably) while another indexer holds it.

        Raises:
            Cancelled: `cancel` was set while waiting.
        """
        try:
            self._lock.acquire(timeout=0)
            return
        except Timeout:
            pass
        if on_wait is not None:
            on_wait(
                f"another Folio process is indexing this library ({self.holder()}); waiting "
                "for it to finish"
            )
        while True:
            cancel.check()
            try:
                self._lock.acquire(timeout=_POLL_S)
                return
            except Timeout:
                continue

    @contextmanager
    def held(
        self, cancel: CancelToken, on_wait: Callable[[str], None] | None = None
    ) -> Iterator[IndexLock]:
        """The lock for the length of a block: taken as `acquire` takes it, this process
        named as its holder (`mark_holder`), released after."""
        self.acquire(cancel, on_wait)
        self.mark_holder()
        try:
            yield self
        finally:
            self.release()

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()

    def holder(self) -> str:
        """Who holds the lock, as far as this machine can tell ("pid 1234")."""
        try:
            pid = self.path.with_name(self.path.name + ".pid").read_text().strip()
        except OSError:
            return "pid unknown"
        return f"pid {pid}" if pid.isdigit() else "pid unknown"

    def __enter__(self) -> IndexLock:
        self.acquire(CancelToken())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def mark_holder(self) -> None:
        """Write this process's pid beside the lock, for the waiting side's message."""
        try:
            self.path.with_name(self.path.name + ".pid").write_text(str(os.getpid()))
        except OSError:
            pass
