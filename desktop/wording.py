"""Counts in words, the same in the CLI and the window: "1 document", "2,048 chunks"."""

from __future__ import annotations


def counted(n: int, word: str, plural: str | None = None) -> str:
    """`n` with thousands separators and `word`, or `plural` (default: word + "s") unless
    n is 1."""
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"
