"""How long something takes, in words people read at a glance: the CLI's and the window's
progress (training, indexing) and their results all say durations the same way."""

from __future__ import annotations

import math


def format_duration(seconds: float | None) -> str:
    """'42 s', '3 min 05 s', '1 h 02 min'; an em dash when unknown (as `format_ms`)."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def time_left(seconds: float | None) -> str:
    """'about 3 min 05 s left'; 'estimating time left' while unknown; 'almost done' under a
    second (never 'about 0 s left' while work remains)."""
    if seconds is None or not math.isfinite(seconds):
        return "estimating time left"
    if seconds < 1:
        return "almost done"
    return f"about {format_duration(seconds)} left"
