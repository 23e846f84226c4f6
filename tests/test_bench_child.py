"""`folio bench retrieval`'s fresh-process search (`desktop.bench.child search`), on the real
library, embedder and both vector legs: the shipped one and schema 4's numpy baseline that
the bench swaps in for the searcher's own."""

from __future__ import annotations

from pathlib import Path

from desktop.bench import child
from desktop.library.indexer import Indexer
from desktop.library.store import Library
from desktop.sample import make_corpus


def test_fresh_search_with_either_vector_leg(tmp_path: Path, real_embedder, real_tokenizer) -> None:
    path = tmp_path / "lib.sqlite"
    with Library(path) as lib:
        Indexer(lib, real_embedder, real_tokenizer).index([make_corpus(tmp_path)])
    question = "How many megawatts did the Zorblax turbine produce?"
    for kind in ("sqlite-vec", "numpy"):
        figures = child.search(kind, path, question, None)
        assert figures["hits"] > 0, kind
        assert figures["vector_ms"] > 0, kind
