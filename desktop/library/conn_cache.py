"""Values a connection remembers until the library changes: the keyword leg's word counts
(desktop/library/keywords.py) and small folders' chunk ids (desktop/library/folder_scope.py).

The library's state is SQLite's data_version (other connections' commits) with the
connection's own total_changes(); when either moves, what was remembered is dropped (a
window that searched a word before the folder holding it was indexed must not keep
counting 0).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Generic, TypeVar

import apsw

K = TypeVar("K")
V = TypeVar("V")


def library_state(db: apsw.Connection) -> tuple[int, int]:
    """What moves when the library changes, as seen from this connection."""
    version = db.execute("PRAGMA data_version").fetchone()
    return (int(version[0]) if version else 0, db.total_changes())


class UntilChanged(Generic[K, V]):
    """Per connection, values remembered until the library changes; with `keep`, only the
    `keep` most recently used (looked up or stored)."""

    def __init__(self, keep: int | None = None) -> None:
        self.keep = keep
        self._stores: weakref.WeakKeyDictionary[
            apsw.Connection, tuple[tuple[int, int], dict[K, V]]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def lookup(self, db: apsw.Connection, keys: Iterable[K]) -> tuple[dict[K, V], dict[K, V]]:
        """The connection's store (emptied first if the library changed since it was
        filled; the state is read once) and the known values of `keys`."""
        state = library_state(db)
        with self._lock:
            seen, store = self._stores.get(db, (None, {}))
            if seen != state:
                store = {}
                self._stores[db] = (state, store)
            found = {k: store[k] for k in keys if k in store}
            if self.keep is not None:
                for k in found:  # used now: the last to go
                    store[k] = store.pop(k)
            return store, found

    def store(self, into: dict[K, V], values: Mapping[K, V]) -> None:
        """Remember `values` in a store `lookup` returned (the oldest go past `keep`)."""
        with self._lock:
            for k, v in values.items():
                into.pop(k, None)
                into[k] = v
            while self.keep is not None and len(into) > self.keep:
                del into[next(iter(into))]
