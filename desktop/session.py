"""A Folio session: settings plus lazily loaded library, embedder and engine.

The CLI and the GUI both talk to the core through this object. Heavy parts load on first
use, so `folio status` never loads a model and the window opens before the model does.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from tokenizers import Tokenizer

from desktop import paths
from desktop import settings as settings_mod
from desktop.embed.base import Embedder
from desktop.engine.llm import Engine
from desktop.errors import ModelError
from desktop.library.indexer import Indexer
from desktop.library.search import Searcher
from desktop.library.store import Library
from desktop.models.catalog import ModelSpec, load_catalog, require_local
from desktop.rag.answer import Answerer
from desktop.settings import Settings


class Session:
    """Owns the resources of one Folio library; close it to free them.

    Args:
        library_path: the library file (default: `FOLIO_HOME`/platform data folder).
        settings: user settings (default: loaded from disk).
    """

    def __init__(self, library_path: Path | None = None, settings: Settings | None = None):
        self.library_path = Path(library_path) if library_path else paths.default_library_path()
        self.settings = settings or settings_mod.load()
        if self.settings.models_dir:
            os.environ["FOLIO_MODELS_DIR"] = self.settings.models_dir

    @cached_property
    def catalog(self):  # type: ignore[no-untyped-def]
        return load_catalog()

    def model_spec(self, kind: str) -> ModelSpec:
        model_id = self.settings.chat_model if kind == "chat" else self.settings.embedding_model
        spec = self.catalog.get(model_id)
        if spec.kind != kind:
            raise ModelError(f"model {model_id} is a {spec.kind} model, not a {kind} model")
        return spec

    @cached_property
    def library(self) -> Library:
        return Library(self.library_path)

    @cached_property
    def embedder(self) -> Embedder:
        from desktop.embed.fastembed_embedder import FastEmbedEmbedder

        spec = self.model_spec("embedding")
        assert spec.fastembed_name is not None and spec.dim is not None
        threads = self.settings.threads or None
        return FastEmbedEmbedder(
            spec.id,
            spec.fastembed_name,
            require_local(spec),
            spec.dim,
            threads=threads,
            model_file=spec.file,
        )

    @cached_property
    def tokenizer(self) -> Tokenizer:
        from desktop.ingest.chunker import load_tokenizer

        return load_tokenizer(require_local(self.model_spec("embedding")))

    @cached_property
    def indexer(self) -> Indexer:
        return Indexer(
            self.library,
            self.embedder,
            self.tokenizer,
            self.settings.chunk_tokens,
            self.settings.chunk_overlap,
        )

    @cached_property
    def searcher(self) -> Searcher:
        return Searcher(self.library, self.embedder)

    @cached_property
    def engine(self) -> Engine:
        spec = self.model_spec("chat")
        gpu = self.settings.gpu_layer_count(gpu_available=_gpu_offload_supported())
        return Engine(
            require_local(spec),
            n_ctx=min(spec.context or 4096, 4096),
            n_threads=self.settings.threads or None,
            gpu_layers=gpu,
        )

    @cached_property
    def answerer(self) -> Answerer:
        return Answerer(
            self.searcher,
            self.engine,
            k=self.settings.k,
            mode=self.settings.search_mode,  # type: ignore[arg-type]
            max_tokens=self.settings.max_answer_tokens,
        )

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.close()
        if "library" in self.__dict__:
            self.library.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _gpu_offload_supported() -> bool:
    try:
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except (ImportError, AttributeError):
        return False
