"""Embeddings are computed once per (model, chunk text): renames, copies, touches and
re-indexing cost none, and an edit costs only the chunks whose text changed."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from desktop.ingest.chunker import chunk
from desktop.ingest.extract import extract
from desktop.library.chunk_keys import embed_key, embedding_text
from desktop.library.indexer import Indexer
from desktop.library.search import Searcher
from desktop.library.store import Library

pytestmark = pytest.mark.slow

_WORDS = "pump valve river station bearing cooling winter report energy harbour ferry".split()


def _long_text(rng: random.Random, paragraphs: int) -> str:
    return "\n\n".join(
        " ".join(rng.choice(_WORDS) for _ in range(110)) + f" (paragraph {i})."
        for i in range(paragraphs)
    )


def _keys(path: Path, model: str, tokenizer) -> set[str]:  # type: ignore[no-untyped-def]
    return {embed_key(model, embedding_text(c)) for c in chunk(extract(path), tokenizer)}


@pytest.fixture()
def library(tmp_path: Path):  # type: ignore[no-untyped-def]
    lib = Library(tmp_path / "lib.sqlite")
    yield lib
    lib.close()


def test_rename_copy_touch_and_reindex_embed_nothing(
    tmp_path: Path, library: Library, real_embedder, real_tokenizer
) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    (docs / "a").mkdir(parents=True)
    (docs / "a" / "pumps.txt").write_text(_long_text(random.Random(1), 6))
    (docs / "valves.txt").write_text("The valve at Voss is called Brynjar.\n")
    indexer = Indexer(library, real_embedder, real_tokenizer)
    first = indexer.index([docs])
    assert first.embedded == first.chunks > 3

    again = indexer.index([docs])
    assert (again.unchanged, again.embedded) == (2, 0)

    os.utime(docs / "valves.txt", (1, 1))  # touched: new mtime, same bytes
    touched = indexer.index([docs])
    assert (touched.unchanged, touched.updated, touched.embedded) == (2, 0, 0)

    (docs / "b").mkdir()
    os.rename(docs / "a" / "pumps.txt", docs / "b" / "moved pumps.txt")
    moved = indexer.index([docs])
    assert (moved.renamed, moved.added, moved.removed, moved.embedded) == (1, 0, 0, 0)
    hit = Searcher(library, real_embedder).search("paragraph 3 pump", k=1).hits[0]
    assert hit.chunk.path == str(docs / "b" / "moved pumps.txt")

    shutil.copy(docs / "valves.txt", docs / "copy of valves.txt")
    copied = indexer.index([docs])
    assert (copied.added, copied.embedded, copied.reused) == (1, 0, 1)
    assert library.counts()["documents"] == 3


def test_one_paragraph_edit_reembeds_only_the_changed_chunks(
    tmp_path: Path, library: Library, real_embedder, real_tokenizer, record_property
) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(5)
    path = tmp_path / "docs" / "manual.txt"
    path.parent.mkdir()
    text = _long_text(rng, 50)
    path.write_text(text)
    indexer = Indexer(library, real_embedder, real_tokenizer)
    first = indexer.index([path.parent])
    assert first.chunks >= 50
    before = _keys(path, real_embedder.model_id, real_tokenizer)

    paragraphs = text.split("\n\n")
    paragraphs[25] = "The harbour pump was replaced by a quieter Kaplan unit in March."
    path.write_text("\n\n".join(paragraphs))
    edited = indexer.index([path.parent])

    changed = _keys(path, real_embedder.model_id, real_tokenizer) - before
    print(
        f"\none-paragraph edit of a {first.chunks}-chunk file: {edited.embedded} embedded, "
        f"{edited.reused} reused"
    )
    record_property("edit_embedded", edited.embedded)
    assert edited.updated == 1
    assert edited.embedded == len(changed) <= 5  # the edited paragraph and its neighbours
    assert edited.reused == edited.chunks - edited.embedded
    hit = Searcher(library, real_embedder).search("Kaplan unit", k=1, mode="keyword").hits[0]
    assert "quieter Kaplan unit" in hit.chunk.text


def test_deleted_files_and_folders_are_dropped_at_once(
    tmp_path: Path, library: Library, real_embedder, real_tokenizer
) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    (docs / "old").mkdir(parents=True)
    (docs / "old" / "one.txt").write_text("Ferry timetable for Stord.\n")
    (docs / "keep.txt").write_text("Keep the Kvitfjell key safe.\n")
    indexer = Indexer(library, real_embedder, real_tokenizer)
    indexer.index([docs])
    shutil.rmtree(docs / "old")

    report = indexer.index([docs])

    assert report.removed == 1
    assert [r.path for r in library.iter_documents()] == [str(docs / "keep.txt")]
    assert not Searcher(library, real_embedder).search("Stord", k=3, mode="keyword").hits
