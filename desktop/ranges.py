"""The ranges of the numbers a user sets (settings, a training job), checked with one wording.

The Settings dialog's spin boxes take the same ranges, so the window never offers a value
that the settings would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """An inclusive range, and how a message names the number (`unit` follows the high end)."""

    low: float
    high: float
    what: str
    unit: str = ""
    zero: str = ""  # what 0 means, where it means something ("automatic")

    @property
    def bounds(self) -> tuple[int, int]:
        """The range as whole numbers, for a spin box."""
        return int(self.low), int(self.high)

    def check(self, value: float) -> None:
        """Raises ValueError, in the range's own words, unless low <= value <= high."""
        if not self.low <= value <= self.high:
            meaning = f" (0: {self.zero})" if self.zero else ""
            raise ValueError(
                f"{self.what} must be between {self.low:g} and {self.high:g}{self.unit}{meaning}"
            )


def check_ranges(record: object, ranges: Mapping[str, Range]) -> None:
    """Check each attribute of `record` named in `ranges` (ValueError for the first outside)."""
    for name, allowed in ranges.items():
        allowed.check(getattr(record, name))
