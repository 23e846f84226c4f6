"""The swappable parts of Folio (embedders and chat engines) and how each is built.

A `Registry` maps model ids to factories. Catalog models need no entry: the default
factories build them (fastembed for embedding models, llama.cpp for chat models). Other
implementations register under their own model id, exactly like a real part; the test suite
registers its deterministic fakes this way, and the Session then builds them as it builds the
real ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from desktop.embed.base import Embedder
from desktop.engine.api import ChatEngine
from desktop.models.spec import ModelSpec

if TYPE_CHECKING:
    from desktop.config import Config

EmbedderFactory = Callable[["Config", "ModelSpec | None"], Embedder]
ChatEngineFactory = Callable[["Config", "ModelSpec | None"], ChatEngine]
RemoteEngineFactory = Callable[["Config"], ChatEngine]
RemoteEmbedderFactory = Callable[["Config"], Embedder]

# The engine's context holds the prompt and the answer, never more than the model supports.
# A prompt is the system prompt, the budgeted passages (desktop/rag/budget.py: 70 words by
# default), two earlier turns and the question: well under PROMPT_ROOM tokens. Every
# token of context costs KV cache memory (23 KB a token for SmolLM2-135M), so the window
# is sized for the answer length the settings allow, not the model's maximum.
PROMPT_ROOM = 1536


def context_size(spec_context: int | None, max_answer_tokens: int) -> int:
    """The engine's context window: room for a prompt and the longest answer, rounded up to
    256 tokens and capped at what the model supports."""
    wanted = -(-(PROMPT_ROOM + max_answer_tokens) // 256) * 256
    return min(spec_context, wanted) if spec_context else wanted


def fastembed_embedder(config: Config, spec: ModelSpec | None) -> Embedder:
    """The production embedder for a catalog embedding model."""
    from desktop.embed import graph
    from desktop.embed.fastembed_embedder import FastEmbedEmbedder
    from desktop.errors import ModelError
    from desktop.models.installed import require_local

    if spec is None or spec.fastembed_name is None or spec.dim is None:
        raise ModelError(f"{config.settings.embedding_model} is not an embedding model")
    folder = require_local(spec, config.locations.models_search_path)
    return FastEmbedEmbedder(
        spec.id,
        spec.fastembed_name,
        folder,
        spec.dim,
        threads=config.threads,
        model_file=spec.file,
        graph=graph.prepared(folder / spec.file, spec.sha256, config.locations.cache_dir),
    )


def llama_engine(config: Config, spec: ModelSpec | None) -> ChatEngine:
    """The production chat engine: the catalog model's GGUF in llama.cpp."""
    from desktop.engine.llm import Engine
    from desktop.errors import ModelError
    from desktop.models.installed import require_local

    if spec is None:
        raise ModelError(f"{config.settings.chat_model} is not in the model catalog")
    return Engine(
        require_local(spec, config.locations.models_search_path),
        n_ctx=context_size(spec.context, config.settings.max_answer_tokens),
        n_threads=config.threads,
        gpu_layers=config.gpu_layers,
        adapter_dirs=config.locations.adapter_dirs,
        cache_dir=config.locations.cache_dir,
    )


def http_engine(config: Config) -> ChatEngine:
    """The chat engine on the serving engine the settings name (Settings › Engine)."""
    from desktop.engine import secrets
    from desktop.engine.endpoint import Endpoint
    from desktop.engine.remote import RemoteEngine

    s = config.settings
    key = config.engine_api_key or secrets.stored_key(s.engine_url)
    return RemoteEngine(Endpoint(s.engine_url, s.engine_model, key))


def http_embedder(config: Config) -> Embedder:
    """The embedder on the server the settings name (`embedding_url`); chunks are sized with
    the catalog's default embedding model's tokenizer."""
    from desktop.embed.remote_embedder import RemoteEmbedder
    from desktop.engine import secrets
    from desktop.engine.endpoint import Endpoint
    from desktop.models.catalog import load_catalog
    from desktop.models.installed import require_local

    s = config.settings
    key = config.engine_api_key or secrets.stored_key(s.embedding_url)
    spec = load_catalog(imported_from=config.locations.user_models_dir).default("embedding")
    folder = require_local(spec, config.locations.models_search_path)
    return RemoteEmbedder(Endpoint(s.embedding_url, s.embedding_server_model, key), folder)


@dataclass
class Registry:
    """Which factory builds the part for a model id; catalog models use the defaults."""

    embedders: dict[str, EmbedderFactory] = field(default_factory=dict)
    chat_engines: dict[str, ChatEngineFactory] = field(default_factory=dict)
    default_embedder: EmbedderFactory = fastembed_embedder
    default_chat_engine: ChatEngineFactory = llama_engine
    remote_chat_engine: RemoteEngineFactory = http_engine
    remote_embedder: RemoteEmbedderFactory = http_embedder

    def register_embedder(self, model_id: str, factory: EmbedderFactory) -> None:
        self.embedders[model_id] = factory

    def register_chat_engine(self, model_id: str, factory: ChatEngineFactory) -> None:
        self.chat_engines[model_id] = factory

    def embedder_factory(self, model_id: str) -> EmbedderFactory | None:
        """The factory registered for `model_id`, or None: a catalog model."""
        return self.embedders.get(model_id)

    def chat_engine_factory(self, model_id: str) -> ChatEngineFactory | None:
        return self.chat_engines.get(model_id)


def default_registry() -> Registry:
    """A registry with only the production parts (what both clients use)."""
    return Registry()
