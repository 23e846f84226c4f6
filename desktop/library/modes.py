"""The search modes, shared by settings, search and both clients."""

from __future__ import annotations

from typing import Literal, TypeGuard

Mode = Literal["hybrid", "vector", "keyword"]
MODES: tuple[Mode, ...] = ("hybrid", "vector", "keyword")


def is_mode(value: object) -> TypeGuard[Mode]:
    """True if `value` names a search mode."""
    return value in MODES
