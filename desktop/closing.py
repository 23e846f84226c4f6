"""The one shape of an object that owns native resources: `close()` frees them, and the
object is its own context manager (`with ParsePool(...) as pool:`)."""

from __future__ import annotations

from typing import TypeVar

_C = TypeVar("_C", bound="Closeable")


class Closeable:
    """Owns resources that `close()` frees; `with` closes it on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
