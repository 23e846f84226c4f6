"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs in whichever thread happens to allocate when a generation's threshold
is crossed. In Folio that is often a worker thread loading a model or listing adapters,
and the garbage it finds can hold Qt objects (a closed window's widgets, a finished
dialog's signals) that must be destroyed on the thread that owns them: collected on a
worker they crash the process (seen as a segfault "Garbage-collecting" inside a worker).

While a window is open, automatic collection is off and a timer on the GUI thread runs
the same generational collection whenever the allocation counts pass the same
thresholds. Objects without cycles are freed by reference counting as always.
"""

from __future__ import annotations

import gc
import logging

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

INTERVAL_MS = 250  # how often the counts are looked at (a look costs microseconds)


class GuiThreadCollector(QObject):
    """Disables automatic collection and collects on this (the GUI) thread instead."""

    def __init__(self, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__()
        self.collections = 0
        self._was_enabled = gc.isenabled()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        gc.disable()
        self._timer.start()

    def check(self) -> int:
        """Collect the oldest generation whose count is past its threshold; the generation
        collected, or -1 when none was due."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        due = -1
        for generation in range(3):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                due = generation
        if due >= 0:
            gc.collect(due)
            self.collections += 1
        return due

    def stop(self) -> None:
        """Collect everything now, on this thread, and give collection back to Python."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()


_active: GuiThreadCollector | None = None
_holders = 0


def hold() -> GuiThreadCollector:
    """Start (or share) the GUI-thread collector; call `release()` once per `hold()`."""
    global _active, _holders
    if _active is None:
        _active = GuiThreadCollector()
    _holders += 1
    return _active


def release() -> None:
    """Give back one `hold()`; the last one collects everything and re-enables the collector."""
    global _active, _holders
    if _holders == 0 or _active is None:
        return
    _holders -= 1
    if _holders == 0:
        collector, _active = _active, None
        collector.stop()
        collector.deleteLater()
