"""Summaries of timing samples, the same in every benchmark."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def summarize(values: Sequence[float], digits: int = 2) -> dict[str, float]:
    """Median, 95th percentile (nearest rank) and count of a non-empty sample."""
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), digits),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], digits),
        "n": len(ordered),
    }
