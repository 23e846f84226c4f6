"""How much one file may cost to read: time, memory, bytes on disk and text (the user sets
them in Settings; the composition root, desktop/session.py, hands them over)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from desktop.errors import ExtractionError

MB = 2**20
# An archive part (a .docx's document.xml) may expand to this many times the text limit:
# markup is bulky, but a part past it is a zip bomb or nothing a person wrote.
MEMBER_FACTOR = 16


@dataclass(frozen=True)
class IngestLimits:
    """Limits for reading one file. Every check that refuses a file says which limit it hit."""

    timeout_s: float = 60.0
    memory_mb: int = 1024
    max_file_mb: int = 200
    max_text_mb: int = 10
    workers: int = 0  # parse worker processes; 0 = automatic
    ocr: bool = False

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.memory_mb <= 0 or self.max_file_mb <= 0:
            raise ValueError("limits must be positive")
        if self.max_text_mb <= 0 or self.workers < 0:
            raise ValueError("limits must be positive")

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * MB

    @property
    def max_text_chars(self) -> int:
        return self.max_text_mb * MB

    @property
    def max_member_bytes(self) -> int:
        return MEMBER_FACTOR * self.max_text_mb * MB

    def worker_count(self) -> int:
        """Parse workers to run: the setting, else one per two cores (embedding needs the rest)."""
        if self.workers:
            return self.workers
        return max(1, min(4, (os.cpu_count() or 2) // 2))

    def check_text_size(self, path: object, size: int) -> None:
        """Refuse a text file (or extracted text) larger than the text limit.

        Raises:
            ExtractionError: `size` characters or bytes are over `max_text_mb`.
        """
        if size > self.max_text_chars:
            raise ExtractionError(
                f"{path}: {size / MB:,.1f} MB of text is over the {self.max_text_mb} MB text "
                "limit set in Settings (max_text_mb); raise it to index this file"
            )


DEFAULT_LIMITS = IngestLimits()
