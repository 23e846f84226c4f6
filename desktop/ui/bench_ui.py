"""How responsive the window stays while a large folder indexes (`folio bench ui`).

A 10 ms QTimer runs on the GUI thread for the whole indexing run; each tick records how
late it fired. Lateness is what a user feels as lag: a click or a repaint waits that long.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from PySide6.QtCore import QElapsedTimer, Qt, QTimer

from desktop.paths import Locations

if TYPE_CHECKING:
    from desktop.ui.main_window import MainWindow

FILES = 500
INTERVAL_MS = 10
INDEX_TIMEOUT_S = 900


class _IndexingFigures(TypedDict):
    files: int
    chunks: int
    index_s: float
    outcome: str  # the job's end ("done", "cancelled", "failed") or "timed out"
    progress_updates: int
    probe_interval_ms: int
    lateness_ms: dict[str, float]  # `LatencyProbe.summary`


class UiResult(_IndexingFigures, total=False):
    """`folio bench ui`: indexing in the real window, and how late the event loop ran."""

    target_p99_ms: int  # set by `bench_ui`, not by `measure_indexing`


class LatencyProbe:
    """A precise timer on the GUI thread that records how late each of its ticks is."""

    def __init__(self, interval_ms: int = INTERVAL_MS) -> None:
        self.interval_ms = interval_ms
        self.lateness_ms: list[float] = []
        self._clock = QElapsedTimer()
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.lateness_ms.clear()
        self._clock.start()
        self._last = 0.0
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed() / 1e6
        self.lateness_ms.append(max(0.0, now - self._last - self.interval_ms))
        self._last = now

    def summary(self) -> dict[str, float]:
        values = sorted(self.lateness_ms)
        if not values:
            return {"samples": 0}

        def pct(p: float) -> float:
            return round(values[min(len(values) - 1, int(p / 100 * len(values)))], 1)

        return {
            "samples": len(values),
            "p50": pct(50),
            "p95": pct(95),
            "p99": pct(99),
            "max": round(values[-1], 1),
            "mean": round(statistics.fmean(values), 2),
        }


def measure_indexing(
    window: MainWindow,
    folder: Path,
    interval_ms: int = INTERVAL_MS,
    timeout_s: float = INDEX_TIMEOUT_S,
) -> UiResult:
    """Index `folder` in `window` (a MainWindow) while probing its event loop."""
    from desktop.ui.harness import wait_for

    probe = LatencyProbe(interval_ms)
    updates: list[int] = []
    window.library_ctl.job_progress.connect(lambda _job, p: updates.append(p.files_done))
    started = time.perf_counter()
    probe.start()
    job = window.index_paths([folder])
    ended = wait_for(window.library_ctl.job_ended, timeout_s, lambda j, _how: j == job)
    probe.stop()
    seconds = time.perf_counter() - started
    counts = window.library.counts()
    return {
        "files": counts["documents"],
        "chunks": counts["chunks"],
        "index_s": round(seconds, 2),
        "outcome": str(ended[1]) if ended else "timed out",
        "progress_updates": len(updates),
        "probe_interval_ms": interval_ms,
        "lateness_ms": probe.summary(),
    }


def bench_ui(
    files: int = FILES, interval_ms: int = INTERVAL_MS, user: Locations | None = None
) -> UiResult:
    """Open the real window in a temporary home (seeing the `user`'s models), wait for the
    model, then index `files` generated text files while measuring event-loop lateness."""
    from desktop.config import Config
    from desktop.session import Session
    from desktop.settings import Settings
    from desktop.ui import theme
    from desktop.ui.app import ensure_app
    from desktop.ui.harness import temporary_home, wait_for, write_notes
    from desktop.ui.main_window import MainWindow

    with temporary_home(user or Locations.from_environment(), "folio-bench-ui-") as (root, where):
        app = ensure_app()
        theme.apply(app, "light")
        window = MainWindow(Session(Config.resolve(Settings(), where)))
        window.show()
        try:
            if not window.model_info:
                wait_for(window.models.model_ready, 180)
            folder = write_notes(root / "notes", files)
            result = measure_indexing(window, folder, interval_ms)
        finally:
            window.close()
    result["target_p99_ms"] = 100
    return result


def main() -> int:
    """Entry point for `python -m desktop.ui.bench_ui`: prints the result as JSON."""
    import json

    print(json.dumps(bench_ui(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
