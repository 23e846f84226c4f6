"""Embeddings through a real llama-server (`--embeddings`) on loopback: a folder indexed and
searched through it; a library refuses another embedder's vectors; and the same model,
local (llama-cpp-python) or served, ranks the same top 10."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from desktop.config import Config
from desktop.embed.base import Embedder
from desktop.errors import LibraryError
from desktop.paths import Locations
from desktop.sample import QUESTIONS, make_corpus
from desktop.session import Session
from desktop.settings import Settings
from tests.llama_server import Server, require_binary, start_server

pytestmark = pytest.mark.slow

LOCAL_ID = "llama-mean"


class LlamaMeanEmbedder(Embedder):
    """The chat model's mean-pooled hidden states through llama-cpp-python: the same model
    the server embeds with, run here."""

    def __init__(self, model: Path, tokenizer: Tokenizer) -> None:
        import llama_cpp

        self.model_id = LOCAL_ID
        self._tokenizer = tokenizer
        self._llm = llama_cpp.Llama(
            model_path=str(model),
            embedding=True,
            pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
            n_ctx=2048,
            seed=0,
            verbose=False,
        )
        self.dim = len(self.embed_batch(["Folio"])[0])

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray([self._llm.embed(t) for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def tokenizer(self) -> Tokenizer:
        return self._tokenizer


@pytest.fixture(scope="module")
def server(chat_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_binary()
    log = tmp_path_factory.mktemp("embed-server") / "server.log"
    running = start_server(
        chat_model_path, log, adapters=(), key=None, extra=["--embeddings", "--pooling", "mean"]
    )
    yield running
    running.stop()


def served_config(url: str, library: Path) -> Config:
    settings = Settings(embedding_url=url)
    return Config.resolve(settings, Locations.from_environment(), library)


def test_index_and_search_through_the_server_and_refuse_another_embedder(
    server: Server, tmp_path: Path
) -> None:
    library = tmp_path / "served.sqlite"
    with Session(served_config(server.url, library)) as s:
        assert s.embedder.model_id.startswith("server:SmolLM2") and s.embedder.dim == 576
        report = s.indexer.index([make_corpus(tmp_path)])
        assert report.added == 4 and not report.failed
        # A chat model's mean-pooled states are a weak embedder (the top vector hit here is
        # another file), so the query goes through the hybrid search the app uses.
        assert len(s.searcher.search("Zorblax turbine megawatts", 3, "vector").hits) == 3
        hits = s.searcher.search("Zorblax turbine megawatts", 3, "hybrid").hits
        assert hits and Path(hits[0].chunk.path).name == "operations-report.pdf"
    local = Config.resolve(Settings(), Locations.from_environment(), library)
    with Session(local) as s, pytest.raises(LibraryError, match="re-index") as refused:
        _ = s.searcher
    assert "server:SmolLM2" in str(refused.value) and "folio rebuild" in str(refused.value)


def test_the_same_model_local_or_served_ranks_the_same_top_10(
    server: Server, tmp_path: Path, chat_model_path: Path, real_tokenizer: Tokenizer
) -> None:
    from tests.fakes import fake_registry

    docs = make_corpus(tmp_path)
    registry = fake_registry()
    registry.register_embedder(
        LOCAL_ID, lambda _c, _s: LlamaMeanEmbedder(chat_model_path, real_tokenizer)
    )
    here_config = Config.resolve(
        Settings(embedding_model=LOCAL_ID), Locations.from_environment(), tmp_path / "here.sqlite"
    )
    rankings: list[list[list[str]]] = []
    for config, reg in (
        (here_config, registry),
        (served_config(server.url, tmp_path / "there.sqlite"), None),
    ):
        with Session(config, reg) as s:
            s.indexer.index([docs])
            rankings.append(
                [[h.chunk.text for h in s.searcher.search(q, 10, "vector").hits] for q in QUESTIONS]
            )
    here, there = rankings
    for q, a, b in zip(QUESTIONS, here, there, strict=True):
        assert len(a) == len(b) > 0
        assert a == b, f"{q}: local {len(set(a) & set(b))}/10 in common, order differs"
