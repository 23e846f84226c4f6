"""`folio bench retrieval`'s cold page cache: dropping a library's pages changes nothing in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.bench import retrieval
from desktop.library.store import Library


@pytest.mark.skipif(not retrieval.can_evict(), reason="this OS has no posix_fadvise")
def test_evicting_a_library_keeps_it_whole_and_searchable(tmp_path: Path) -> None:
    lib = Library(tmp_path / "lib.sqlite")
    with lib.db:
        lib.db.execute("INSERT INTO meta(key, value) VALUES ('probe', 'kept')")
    before = (tmp_path / "lib.sqlite").read_bytes()
    retrieval.evict(lib.path)  # the WAL and its index too, while the library is open
    retrieval.evict(tmp_path / "missing.sqlite")
    assert lib.db.execute("SELECT value FROM meta WHERE key = 'probe'").fetchone() == ("kept",)
    assert (tmp_path / "lib.sqlite").read_bytes() == before
    lib.close()
