"""Indexing in two phases: a folder's text and keyword rows are committed first, so it is
searchable by keyword at once; the vectors follow, and an interrupted run leaves chunks
waiting for theirs, which the next run embeds (nothing lost, nothing embedded twice).

Fast: the registered fake embedder over real SQLite, sqlite-vec and FTS5. The same
behaviour on the real embedder, with kill -9, is in test_kill_index.py.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from desktop.cancel import CancelToken
from desktop.config import Config
from desktop.errors import Cancelled
from desktop.ingest.types import ChunkDraft
from desktop.library import backfill, pending, vectors
from desktop.library.chunk_keys import embed_key, text_for
from desktop.library.health import invariant_problems
from desktop.library.indexer import IndexProgress
from desktop.library.search import Searcher
from desktop.library.store import Library
from desktop.session import Session
from tests.fakes import HashingEmbedder, fake_registry

pytestmark = pytest.mark.fast

_TOPICS = ["zebrafish", "lighthouse", "turbine", "glacier", "harpsichord", "volcano"]


class GatedEmbedder(HashingEmbedder):
    """The fake embedder held at a gate: every batch waits until the test opens it."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not self.gate.wait(timeout=60):
            raise TimeoutError("the test never opened the gate")
        return super().embed_batch(texts)


def _folder(root: Path, copies: int = 1) -> Path:
    docs = root / "docs"
    docs.mkdir()
    for i, topic in enumerate(_TOPICS):
        body = " ".join(f"The {topic} note {i} says {w} again." for w in range(40))
        for c in range(copies):
            (docs / f"{topic}-{c}.txt").write_text(f"{topic.title()}\n\n{body}\n")
    return docs


def _indexer(session: Session, embedder: HashingEmbedder):  # type: ignore[no-untyped-def]
    from desktop.library.indexer import Indexer

    s = session.settings
    return Indexer(session.library, embedder, embedder.tokenizer(), s.chunk_tokens, s.chunk_overlap)


def _wait_for(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _vectors_by_text(path: Path) -> dict[str, bytes]:
    with Library(path) as lib:
        rows = lib.db.execute(
            f"SELECT c.text, f.vector FROM chunks c JOIN {vectors.FLOATS} f ON f.id = c.id"
        ).fetchall()
    return {str(t): bytes(v) for t, v in rows}  # type: ignore[arg-type]


def test_text_is_searchable_by_keyword_before_any_vector_then_everything_is_embedded(
    fake_session: Session, tmp_path: Path
) -> None:
    docs = _folder(tmp_path)
    gated = GatedEmbedder()
    indexer = _indexer(fake_session, gated)
    seen: list[IndexProgress] = []
    done: list[object] = []

    def run() -> None:
        try:
            done.append(indexer.index([docs], progress=lambda p: seen.append(_copy(p))))
        except BaseException as exc:  # noqa: BLE001 - shown by the assertion below
            done.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    reader = Library(fake_session.library_path)
    try:
        searcher = Searcher(reader, HashingEmbedder())  # another connection, another thread
        _wait_for(lambda: reader.counts()["documents"] == len(_TOPICS))
        # Every file is stored and found by keyword; no vector exists yet.
        hits = searcher.search("harpsichord", k=3)
        assert hits.hits and "harpsichord" in hits.hits[0].chunk.path
        assert all(h.vector_rank is None for h in hits.hits)
        embedding = reader.embedding()
        assert embedding.embedded == 0 and embedding.chunks == reader.counts()["chunks"] > 0
        assert "still indexing: 0 % embedded" in embedding.note()
        assert invariant_problems(reader.db) == []  # waiting for vectors is a sound state
        gated.gate.set()
        worker.join(timeout=60)
        assert not worker.is_alive()
        report = done[0]
        assert not isinstance(report, BaseException), report
        assert reader.embedding().done and pending.count(reader.db) == 0
        assert vectors.count(reader.db) == reader.counts()["chunks"]
        assert all(h.vector_rank is not None for h in searcher.search("harpsichord", k=3).hits)
        assert invariant_problems(reader.db) == []
    finally:
        gated.gate.set()
        reader.close()
    phases = [p.phase for p in seen]
    assert phases.index("indexing") < phases.index("embedding") < phases.index("done")
    counted = [p for p in seen if p.phase == "embedding" and p.embedded_text()]
    assert counted and counted[0].embedded_text().startswith("embedded 0 of ")


def _copy(p: IndexProgress) -> IndexProgress:
    return dataclasses.replace(p)


def test_an_interrupted_embedding_is_finished_by_the_next_run_nothing_twice(
    fake_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill, "EMBED_GROUP", 4)  # several groups, so the cut is inside
    docs = _folder(tmp_path, copies=2)  # each text twice: the copy takes the same vector
    clean_path = tmp_path / "clean.sqlite"
    with Session(dataclasses.replace(fake_config, library_path=clean_path), fake_registry()) as c:
        clean_report = _indexer(c, HashingEmbedder()).index([docs])
    assert clean_report.embedded == clean_report.chunks // 2

    with Session(fake_config, fake_registry()) as s:
        cancel = CancelToken()
        gated = GatedEmbedder()
        failed: list[BaseException] = []

        def run() -> None:
            try:
                _indexer(s, gated).index([docs], cancel=cancel)
            except BaseException as exc:  # noqa: BLE001 - checked below
                failed.append(exc)

        worker = threading.Thread(target=run)
        worker.start()
        with Library(fake_config.library_path) as reader:
            _wait_for(lambda: reader.counts()["documents"] == 2 * len(_TOPICS))
        cancel.cancel()  # the user's Cancel (or a crash) while the vectors are computed
        gated.gate.set()
        worker.join(timeout=60)
        assert len(failed) == 1 and isinstance(failed[0], Cancelled)
        left = s.library.embedding()
        assert 0 < left.pending < left.chunks
        assert invariant_problems(s.library.db) == []
        waiting = {text_for(c.text, c.heading) for c in pending.after(s.library.db, 0, 10**6)}
        model = HashingEmbedder().model_id
        stored = s.library.vectors_for_keys(embed_key(model, t) for t in waiting)
        new = {t for t in waiting if embed_key(model, t) not in stored}  # no copy embedded
        counting = HashingEmbedder()
        again = _indexer(s, counting).index([docs])
        assert again.unchanged == 2 * len(_TOPICS)  # no file parsed again
        # Only the texts still waiting were embedded, each once; a copy's took its vector.
        assert counting.texts_embedded == again.embedded == len(new) > 0
        assert again.reused == left.pending - len(new)
        assert s.library.embedding().done and invariant_problems(s.library.db) == []
    assert _vectors_by_text(fake_config.library_path) == _vectors_by_text(clean_path)


def test_chunks_left_without_vectors_by_a_crash_are_found_and_embedded(
    fake_session: Session, tmp_path: Path
) -> None:
    docs = _folder(tmp_path)
    indexer = _indexer(fake_session, HashingEmbedder())
    indexer.index([docs])
    lib = fake_session.library
    # What a kill between the two phases leaves: chunks committed, their vectors not.
    with lib.db:
        lib.db.execute(f"DELETE FROM {vectors.INDEX} WHERE rowid IN (SELECT id FROM chunks)")
        lib.db.execute(f"DELETE FROM {vectors.FLOATS}")
        lib.db.execute(f"INSERT INTO {pending.TABLE}(id) SELECT id FROM chunks")
    chunks = lib.counts()["chunks"]
    assert lib.embedding().pending == chunks
    counting = HashingEmbedder()
    report = _indexer(fake_session, counting).index([docs])
    assert (report.unchanged, report.added, report.updated) == (len(_TOPICS), 0, 0)
    assert counting.texts_embedded == report.embedded == chunks
    assert vectors.count(lib.db) == vectors.count_indexed(lib.db) == chunks
    assert lib.embedding().done and invariant_problems(lib.db) == []


def test_a_vector_for_a_chunk_id_given_to_other_text_is_not_stored(
    fake_session: Session, tmp_path: Path
) -> None:
    lib = fake_session.library
    lib.bind_embedder(HashingEmbedder().model_id, HashingEmbedder().dim)
    folder = lib.add_folder(tmp_path)
    draft = ChunkDraft(0, "old words", None, None, 0, 9)
    doc = lib.store_document(folder, str(tmp_path / "a.txt"), 9, 1.0, "h1", None, [draft], {})
    (old_id,) = [int(r[0]) for r in lib.db.execute("SELECT id FROM chunks")]
    lib.remove_document(doc)
    new = ChunkDraft(0, "new words", None, None, 0, 9)
    lib.store_document(folder, str(tmp_path / "b.txt"), 9, 1.0, "h2", None, [new], {})
    assert [int(r[0]) for r in lib.db.execute("SELECT id FROM chunks")] == [old_id]  # reused
    vector = HashingEmbedder().embed_batch(["old words"])
    assert lib.add_vectors({old_id: "old words"}, vector) == 0
    assert lib.embedding().pending == 1
    assert lib.add_vectors({old_id: "new words"}, vector) == 1
    assert lib.embedding().done and invariant_problems(lib.db) == []


def test_a_stored_vector_is_lent_even_when_a_lower_chunk_with_its_text_waits(
    fake_session: Session, tmp_path: Path
) -> None:
    """Two chunks with the same text: the one with the lower id still waits, the other
    holds the vector. The text counts as embedded (reused, not embedded again)."""
    lib = fake_session.library
    embedder = HashingEmbedder()
    lib.bind_embedder(embedder.model_id, embedder.dim)
    folder = lib.add_folder(tmp_path)
    text = "the same words in two files"
    key = embed_key(embedder.model_id, text_for(text, None))
    for name in ("a.txt", "b.txt"):
        draft = ChunkDraft(0, text, None, None, 0, len(text))
        lib.store_document(folder, str(tmp_path / name), 9, 1.0, name, None, [draft], {}, [key])
    first, second = sorted(int(r[0]) for r in lib.db.execute("SELECT id FROM chunks"))
    vector = embedder.embed_batch([text_for(text, None)])
    assert lib.add_vectors({second: text_for(text, None)}, vector) == 1
    assert lib.embedding().pending == 1  # `first` still waits
    lent = lib.vectors_for_keys([key])
    assert list(lent) == [key] and np.allclose(lent[key], vector[0])


def test_still_indexing_note_never_says_100_percent_while_a_chunk_waits() -> None:
    assert pending.Embedding(999, 1000).percent == 99
    assert pending.Embedding(400, 1000).note().startswith("still indexing: 40 % embedded")
    assert pending.Embedding(0, 0).done and pending.Embedding(5, 5).done


def test_a_long_lived_searcher_finds_words_stored_after_its_first_search(
    fake_session: Session, tmp_path: Path
) -> None:
    docs = _folder(tmp_path)
    reader = Library(fake_session.library_path)
    try:
        searcher = Searcher(reader, HashingEmbedder())
        assert (
            searcher.search("harpsichord zebrafish", k=3, mode="keyword").hits == []
        )  # nothing yet
        _indexer(fake_session, HashingEmbedder()).index([docs])
        hits = searcher.search("harpsichord zebrafish", k=3, mode="keyword").hits
        assert {Path(h.chunk.path).name.split("-")[0] for h in hits} >= {"harpsichord", "zebrafish"}
    finally:
        reader.close()


def test_a_text_in_flight_on_another_thread_is_embedded_once(
    fake_session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen in test_kill_index: a re-run embedded 43 texts for 41 waiting, because two
    threads embedded copies of one text at once. A copy waits for the group in flight."""
    from concurrent.futures import ThreadPoolExecutor

    from desktop.library.index_types import IndexReport

    monkeypatch.setattr(backfill, "EMBED_GROUP", 1)  # one chunk a group: copies apart
    docs = _folder(tmp_path, copies=2)  # each text twice
    _indexer(fake_session, HashingEmbedder()).index([docs])
    lib = fake_session.library
    with lib.db:  # every vector lost, as a kill between the phases leaves it
        lib.db.execute(f"DELETE FROM {vectors.INDEX} WHERE rowid IN (SELECT id FROM chunks)")
        lib.db.execute(f"DELETE FROM {vectors.FLOATS}")
        lib.db.execute(f"INSERT INTO {pending.TABLE}(id) SELECT id FROM chunks")
    chunks = lib.counts()["chunks"]
    gated = GatedEmbedder()
    report = IndexReport()
    fill = backfill.Backfill(lib, gated, report)
    with ThreadPoolExecutor(max_workers=chunks) as pool:
        fill.start(pool, slots=chunks)  # every group handed out before any comes back
        assert fill.running == chunks // 2
        gated.gate.set()
        while fill.busy():
            fill.start(pool, slots=chunks)
            fill.collect(timeout=1.0)
    assert gated.texts_embedded == report.embedded == chunks // 2
    assert lib.embedding().done and invariant_problems(lib.db) == []
