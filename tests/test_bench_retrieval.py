"""`folio bench retrieval`'s cold page cache: dropping a library's pages from the OS page
cache takes them out of memory and changes nothing in the library."""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import sys
from pathlib import Path

import pytest

from desktop.bench import retrieval
from desktop.library.store import Library


def _resident_pages(path: Path) -> int:
    """How many of the file's pages are in the page cache (mincore(2) over a mapping)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long
    ]  # fmt: skip
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    with open(path, "rb") as f:
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, f.fileno(), 0)
        assert addr not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()
        try:
            vec = ctypes.create_string_buffer(pages)
            assert libc.mincore(addr, size, vec) == 0, ctypes.get_errno()
            return sum(b & 1 for b in vec.raw[:pages])
        finally:
            libc.munmap(addr, size)


@pytest.mark.skipif(sys.platform != "linux", reason="posix_fadvise and mincore: Linux")
def test_evicting_a_library_drops_its_pages_and_keeps_it_whole(tmp_path: Path) -> None:
    lib = Library(tmp_path / "lib.sqlite")
    with lib.db:
        lib.db.execute("INSERT INTO meta(key, value) VALUES ('probe', 'kept')")
    lib.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = tmp_path / "lib.sqlite"
    before = path.read_bytes()  # every page read, so cached
    assert _resident_pages(path) > 0
    retrieval.evict(lib.path)  # the WAL and its index too, while the library is open
    retrieval.evict(tmp_path / "missing.sqlite")
    assert _resident_pages(path) == 0
    assert lib.db.execute("SELECT value FROM meta WHERE key = 'probe'").fetchone() == ("kept",)
    assert path.read_bytes() == before
    lib.close()
