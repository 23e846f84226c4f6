"""desktop/library/warm.py: what every search reads, read ahead while the searcher is made."""

from __future__ import annotations

import mmap
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from desktop.library import cells, vectors, warm
from desktop.session import Session

from .test_search_vectors import _library, _unit


def test_warm_reads_the_centroids_and_the_row_sizes_of_a_real_library(
    tmp_path: Path, small_cells: None
) -> None:
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


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="needs posix_fadvise to evict")
def test_read_ahead_brings_a_small_library_into_the_page_cache(tmp_path: Path) -> None:
    from desktop.bench import retrieval

    from .test_bench_retrieval import _resident_pages

    lib = _library(tmp_path, _unit(np.random.default_rng(5), 500))
    lib.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = lib.path.stat().st_size
    retrieval.evict(lib.path)
    assert warm.read_ahead(lib.path, limit=size - 1) == 0  # over the limit: left alone
    if sys.platform == "linux":
        assert _resident_pages(lib.path) == 0
    assert warm.read_ahead(lib.path, limit=size) == size
    if sys.platform == "linux":
        assert _resident_pages(lib.path) == -(-size // mmap.PAGESIZE)
    lib.close()


def test_read_ahead_waits_while_a_question_is_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warm, "READ_AHEAD_PIECE", 4096)
    monkeypatch.setattr(warm, "PAUSE_POLL_S", 0.001)
    data = tmp_path / "lib.sqlite"
    data.write_bytes(b"x" * 4096 * 3)
    asked: list[int] = []

    def paused() -> bool:  # a question pending for the first five looks
        asked.append(len(asked))
        return len(asked) <= 5

    assert warm.read_ahead(data, limit=1 << 20, paused=paused) == 4096 * 3
    assert len(asked) == 5 + 3  # five waits after the first piece, then one look a piece


def test_the_window_reads_its_library_ahead_once_its_model_is_ready(
    qtbot, fake_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from desktop.ui.main_window import MainWindow

    started: list[Path] = []
    monkeypatch.setattr(warm, "read_ahead_in_background", lambda p, paused: started.append(p))
    w = MainWindow(fake_session)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: bool(w.model_info), timeout=30_000)
    w.models.model_ready.emit(w.model_info)  # a second "ready" (a model switch): not again
    assert started == [fake_session.library_path]
    w.close()
