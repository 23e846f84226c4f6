"""A cancel token shared between the caller of long work and the work itself."""

from __future__ import annotations

import threading

from desktop.errors import Cancelled


class CancelToken:
    """Set from any thread; long-running core loops poll it between units of work.

    Also supports pausing: `pause()` makes `wait_if_paused()` block until `resume()`
    or `cancel()`.
    """

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or `timeout` seconds pass; True if cancelled."""
        return self._cancelled.wait(timeout)

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_if_paused(self) -> None:
        self._running.wait()

    def check(self) -> None:
        """Raise `Cancelled` if cancellation was asked for (after waiting out a pause)."""
        self.wait_if_paused()
        if self._cancelled.is_set():
            raise Cancelled("cancelled")
