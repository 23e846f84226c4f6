"""Indexing and search on the real components: SQLite + sqlite-vec + FTS5, real embedder."""

from __future__ import annotations

import os
from pathlib import Path

import apsw
import numpy as np
import pytest

from desktop import boundary
from desktop.errors import LibraryError
from desktop.library import pending, vectors
from desktop.library.health import invariant_problems
from desktop.library.indexer import Indexer, IndexProgress
from desktop.library.search import Fusion, Searcher, missing_cosines
from desktop.library.store import Library
from desktop.sample import make_corpus


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path)


@pytest.fixture()
def library(tmp_path: Path):  # type: ignore[no-untyped-def]
    lib = Library(tmp_path / "lib.sqlite")
    yield lib
    lib.close()


def test_index_then_search_finds_pdf_page(library, corpus, real_embedder, real_tokenizer) -> None:
    progress: list[IndexProgress] = []
    report = Indexer(library, real_embedder, real_tokenizer).index(
        [corpus], progress=lambda p: progress.append(p)
    )
    assert report.added == 4 and not report.failed
    assert progress[-1].phase == "done" and progress[-1].files_done == 4
    assert library.counts()["chunks"] >= 6  # 3 PDF pages at least, plus the others

    searcher = Searcher(library, real_embedder)
    for mode in ("hybrid", "vector", "keyword"):
        hits = searcher.search("How many megawatts did the Zorblax turbine produce?", 5, mode).hits
        top = hits[0].chunk
        assert Path(top.path).name == "operations-report.pdf", mode
        assert top.page == 2, mode
    hit = searcher.search("sourdough starter name", 3).hits[0]
    assert Path(hit.chunk.path).name == "recipes.md"
    assert hit.chunk.heading == "Kitchen notes"

    # Every fusion finds it; filled in, the keyword leg's finds carry their exact cosines.
    mixed = "the Zorblax turbine and the sourdough starter"  # two chunks hold its words
    query_vector = real_embedder.embed_query(mixed)
    vec = searcher.vector_ids(query_vector, 1)
    kw = searcher.keyword_ids(mixed, 20)
    cosines = missing_cosines(library.db, query_vector, vec, kw)
    assert cosines and not set(cosines) & {c for c, _ in vec}
    stored = vectors.vectors_of(library.db, list(cosines))
    for cid, cosine in cosines.items():
        assert abs(cosine - float(stored[cid] @ query_vector)) < 1e-6
    question = "How many megawatts did the Zorblax turbine produce?"
    for fusion in (Fusion("tmm", vector_weight=0.5, fill=True), Fusion("rrf", 60, fill=True)):
        hits = Searcher(library, real_embedder, fusion).search(question, 5).hits
        assert Path(hits[0].chunk.path).name == "operations-report.pdf", fusion
        assert all(h.similarity is not None for h in hits)


def test_incremental_reindex(library, corpus, real_embedder, real_tokenizer) -> None:
    indexer = Indexer(library, real_embedder, real_tokenizer)
    indexer.index([corpus])
    again = indexer.index([corpus])
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 4, 0)

    travel = corpus / "notes" / "travel.txt"
    travel.write_text("Travel policy: the per diem is now 95 euros in Oslo.\n", encoding="utf-8")
    os.utime(travel, (1, 1))  # force a different mtime even on coarse clocks
    (corpus / "tool.py").unlink()
    report = indexer.index([corpus])
    assert (report.updated, report.removed, report.unchanged) == (1, 1, 2)

    searcher = Searcher(library, real_embedder)
    texts = [h.chunk.text for h in searcher.search("per diem euros", 10).hits]
    assert any("95 euros" in t for t in texts)
    assert not any("80 euros" in t for t in texts), "stale content after the file changed"
    assert not any("frobnicate" in t for t in texts), "deleted file still searchable"
    # vec0 and FTS rows follow the chunks table exactly: no orphans.
    db = library.db
    n_chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    # The stored document's chunks have vectors, or wait for them on the list.
    assert vectors.count(db) + pending.count(db) == n_chunks
    assert invariant_problems(db) == []
    assert db.execute("SELECT count(*) FROM chunks_fts").fetchone()[0] == n_chunks


def test_bad_file_is_reported_and_nothing_is_lost(
    library, corpus, real_embedder, real_tokenizer
) -> None:
    indexer = Indexer(library, real_embedder, real_tokenizer)
    indexer.index([corpus])
    before = library.counts()["chunks"]
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj garbage that ends too soon")
    report = indexer.index([corpus])
    assert [Path(p).name for p, _ in report.failed] == ["broken.pdf"]
    assert "broken.pdf" in report.failed[0][1]
    assert library.counts()["chunks"] == before
    status = library.status()[0]
    assert status.failed and "broken.pdf" in status.failed[0][0]

    # The PDF gets corrupted by a bad save: its last good version stays searchable.
    pdf = corpus / "operations-report.pdf"
    pdf.write_bytes(pdf.read_bytes()[:200])
    report = indexer.index([corpus])
    assert any(Path(p).name == "operations-report.pdf" for p, _ in report.failed)
    hits = Searcher(library, real_embedder).search("Zorblax turbine megawatts", 3).hits
    assert Path(hits[0].chunk.path).name == "operations-report.pdf"


def test_crash_mid_index_leaves_whole_documents(
    library, corpus, real_embedder, real_tokenizer, monkeypatch
) -> None:
    """A failure while writing leaves each document either fully stored or absent."""
    calls = {"n": 0}
    real_store = library.store_document

    def flaky_store(folder_id, path, size, mtime, digest, pages, chunks, vectors, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            # A vector of the wrong width makes the vector table refuse it mid-transaction,
            # after the document row and its chunk rows were already written inside it.
            vectors = {0: np.ones(10, dtype=np.float32)}
        return real_store(folder_id, path, size, mtime, digest, pages, chunks, vectors, **kw)

    monkeypatch.setattr(library, "store_document", flaky_store)
    with pytest.raises(apsw.Error) as raised:
        Indexer(library, real_embedder, real_tokenizer).index([corpus])
    # Vectors of the wrong width are Folio's bug, not the user's: the boundary says so (and
    # logs the traceback) instead of dressing it up as a problem with their disk.
    assert boundary.classify(raised.value, library.path).kind == "bug"
    db = library.db
    assert db.execute("SELECT count(*) FROM documents").fetchone()[0] == 1
    for (doc_id,) in db.execute("SELECT id FROM documents").fetchall():
        n = db.execute("SELECT count(*) FROM chunks WHERE document_id=?", (doc_id,)).fetchone()[0]
        assert n > 0
    n_chunks = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
    # The stored document's chunks have vectors, or wait for them on the list.
    assert vectors.count(db) + pending.count(db) == n_chunks
    assert invariant_problems(db) == []


def test_library_refuses_a_different_embedder(tmp_path: Path) -> None:
    with Library(tmp_path / "lib.sqlite") as lib:
        lib.bind_embedder("model-a", 384)
        lib.bind_embedder("model-a", 384)  # same model: fine
        with pytest.raises(LibraryError, match="model-a"):
            lib.bind_embedder("model-b", 768)


def test_library_survives_reopen_and_is_wal(tmp_path: Path, real_embedder) -> None:
    path = tmp_path / "lib.sqlite"
    with Library(path) as lib:
        lib.bind_embedder(real_embedder.model_id, real_embedder.dim)
        assert lib.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Library(path) as lib:
        assert lib.embedder() == (real_embedder.model_id, real_embedder.dim)


def test_not_a_library_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.sqlite"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LibraryError, match="not a Folio library"):
        Library(bogus)


def test_vectors_are_unit_length(real_embedder) -> None:
    v = real_embedder.embed_many(["alpha", "a much longer sentence about turbines"])
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)
