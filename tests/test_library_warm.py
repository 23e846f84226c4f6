"""desktop/library/warm.py: what every search reads, read ahead while the searcher is made."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from desktop.library import cells, vectors, warm
from desktop.session import Session

from .test_search_vectors import _library, _unit


def test_warm_reads_the_centroids_and_the_row_sizes_of_a_real_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cells, "MIN_CHUNKS", 1000)
    monkeypatch.setattr(cells, "ROWS_PER_CELL", 100)
    monkeypatch.setattr(cells, "TRAIN_PER_CELL", 10)
    lib = _library(tmp_path, _unit(np.random.default_rng(3), 2000))
    before = warm.warm(lib.path)  # row sizes only: no cells yet
    sizes = lib.db.execute("SELECT total(length(sz)) FROM chunks_fts_docsize").fetchone()[0]
    assert before == sizes > 0
    with lib.db:
        vectors.rebuild_index(lib.db)
    centroids = cells.load(lib.db)
    assert centroids is not None
    assert warm.warm(lib.path) == sizes + centroids.nbytes
    lib.close()


def test_a_library_that_cannot_be_read_is_left_to_the_search(tmp_path: Path) -> None:
    assert warm.warm(tmp_path / "missing.sqlite") == 0
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database" * 100)
    assert warm.warm(garbage) == 0


def test_the_first_searcher_of_a_session_warms_its_library_once(
    fake_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import desktop.session as session_module

    started: list[Path] = []
    monkeypatch.setattr(session_module, "warm_in_background", started.append)
    fake_session.searcher.search("anything", k=1)
    fake_session.searcher.search("anything else", k=1)
    other = threading.Thread(target=lambda: fake_session.searcher.search("a third", k=1))
    other.start()  # another thread's own searcher: the library is warm already
    other.join()
    assert started == [fake_session.library.path]
