"""The composition root: every part of the core is built here, from explicit configuration.

Both clients use it: the CLI makes one Session per command, the window one per library. A
`Config` is resolved once from the settings and the locations; nothing travels through
environment variables.

Shared parts (the catalog and the embedder) load once, lazily, under a lock. The parts bound
to a thread are made per thread, by the thread that uses them: the apsw connection (and the
indexer and searcher on it), the llama.cpp engine (and the answerer on it), since neither
an SQLite connection nor a llama context may be used from two threads at once. Each part
is rebuilt when the settings it depends on change (`configure`), so a client never rebuilds
pieces of the core by hand.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from tokenizers import Tokenizer

from desktop.components import Registry, default_registry
from desktop.config import Config
from desktop.embed.base import Embedder
from desktop.engine.api import ChatEngine
from desktop.errors import FolioError, ModelError
from desktop.ingest.limits import IngestLimits
from desktop.library.fingerprint import check_embedder
from desktop.library.indexer import Indexer
from desktop.library.search import Searcher
from desktop.library.store import Library
from desktop.library.warm import warm_in_background
from desktop.models.catalog import Catalog, load_catalog
from desktop.models.spec import ModelSpec
from desktop.paths import Locations
from desktop.rag.answer import Answerer
from desktop.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class _Built(Generic[T]):
    """A part and the configuration key it was built for."""

    key: Hashable
    part: T


@dataclass
class _ThreadParts:
    """What one thread has built: its own connection and what sits on it."""

    library: Library | None = None
    indexer: _Built[Indexer] | None = None
    searcher: _Built[Searcher] | None = None
    engine: _Built[ChatEngine] | None = None
    answerer: _Built[Answerer] | None = None


class Session:
    """Builds and owns the core's parts for one library; close it (per thread) to free them.

    Args:
        config: what to build from (see `Config.resolve` and `Config.from_environment`).
        registry: which factories build the embedder and the chat engine (default: the
            production ones).
    """

    def __init__(self, config: Config, registry: Registry | None = None) -> None:
        self._config = config
        self.registry = registry or default_registry()
        self._lock = threading.RLock()
        self._embedder: _Built[Embedder] | None = None
        self._warmed = False  # desktop/library/warm.py: done once, by the first searcher
        # Keyed by the OS thread id, not threading.local: Qt worker threads enter Python with
        # a fresh thread state for each slot call, and a threading.local forgets its values
        # with the thread state, so every queued call would build its parts anew.
        self._threads: dict[int, _ThreadParts] = {}

    @classmethod
    def from_environment(cls, library_path: Path | None = None) -> Session:
        return cls(Config.from_environment(library_path))

    # -- configuration ---------------------------------------------------------------------
    @property
    def config(self) -> Config:
        return self._config

    @property
    def settings(self) -> Settings:
        return self._config.settings

    @property
    def locations(self) -> Locations:
        return self._config.locations

    @property
    def library_path(self) -> Path:
        return self._config.library_path

    def configure(self, settings: Settings) -> None:
        """Use new settings; each part is rebuilt on its next use if they changed it."""
        with self._lock:
            self._config = self._config.with_settings(settings)

    # -- shared parts ----------------------------------------------------------------------
    @property
    def catalog(self) -> Catalog:
        """The bundled catalog plus the models imported into the user's models folder
        (read afresh: an import or a download may have changed it)."""
        return load_catalog(imported_from=self.locations.user_models_dir)

    def model_spec(self, kind: str) -> ModelSpec:
        """The catalog entry of the chat or embedding model the settings name.

        Raises:
            ModelError: the model is unknown or is not of that kind.
        """
        model_id = self.settings.chat_model if kind == "chat" else self.settings.embedding_model
        spec = self.catalog.get(model_id)
        if spec.kind != kind:
            raise ModelError(f"model {model_id} is a {spec.kind} model, not a {kind} model")
        return spec

    def _spec_for(self, kind: str, registered: bool) -> ModelSpec | None:
        return None if registered else self.model_spec(kind)

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded once and shared by every thread."""
        config = self._config
        model_id = config.settings.embedding_model
        served = (config.settings.embedding_url, config.settings.embedding_server_model)
        key = (model_id, config.locations.models_search_path, config.threads, served)
        with self._lock:
            if served[0] and (self._embedder is None or self._embedder.key != key):
                self._embedder = _Built(key, self.registry.remote_embedder(config))
            elif self._embedder is None or self._embedder.key != key:
                factory = self.registry.embedder_factory(model_id)
                spec = self._spec_for("embedding", factory is not None)
                build = factory or self.registry.default_embedder
                self._embedder = _Built(key, build(config, spec))
            return self._embedder.part

    @property
    def tokenizer(self) -> Tokenizer:
        """The embedder's tokenizer, which sizes chunks."""
        return self.embedder.tokenizer()

    # -- this thread's parts ---------------------------------------------------------------
    def _parts(self) -> _ThreadParts:
        ident = threading.get_ident()
        with self._lock:
            parts = self._threads.get(ident)
            if parts is None:
                parts = self._threads[ident] = _ThreadParts()
            return parts

    @property
    def library(self) -> Library:
        """This thread's connection to the library."""
        parts = self._parts()
        if parts.library is None:
            parts.library = Library(self.library_path, self._config.busy_timeout_ms)
        return parts.library

    @property
    def ingest_limits(self) -> IngestLimits:
        """What one file may cost to read, as the user set it (Settings' parse_* and max_*)."""
        s = self.settings
        return IngestLimits(
            timeout_s=s.parse_timeout_s,
            memory_mb=s.parse_memory_mb,
            max_file_mb=s.max_file_mb,
            max_text_mb=s.max_text_mb,
            workers=s.parse_workers,
            ocr=s.ocr,
        )

    @property
    def indexer(self) -> Indexer:
        """This thread's indexer (on its connection, with the shared embedder)."""
        parts, s = self._parts(), self.settings
        embedder = self.embedder
        limits = self.ingest_limits
        key = (id(embedder), s.chunk_tokens, s.chunk_overlap, limits)
        if parts.indexer is None or parts.indexer.key != key:
            check_embedder(self.library, embedder, record=True)
            indexer = Indexer(
                self.library,
                embedder,
                embedder.tokenizer(),
                s.chunk_tokens,
                s.chunk_overlap,
                limits,
            )
            parts.indexer = _Built(key, indexer)
        return parts.indexer.part

    @property
    def searcher(self) -> Searcher:
        """This thread's searcher (on its connection, with the shared embedder)."""
        parts = self._parts()
        if parts.searcher is None:
            library = self.library  # opened (and migrated) before anything reads it aside
            with self._lock:
                if not self._warmed:  # once a session, while the embedder loads
                    self._warmed = True
                    warm_in_background(library.path)
        embedder = self.embedder
        key = id(embedder)
        if parts.searcher is None or parts.searcher.key != key:
            check_embedder(self.library, embedder, record=False)
            parts.searcher = _Built(key, Searcher(self.library, embedder))
        return parts.searcher.part

    def _engine_key(self) -> Hashable:
        c = self._config
        # The answer length sizes the context window (components.context_size).
        return (
            c.settings.chat_model,
            c.locations.models_search_path,
            c.threads,
            c.gpu_layers,
            c.settings.max_answer_tokens,
            c.settings.engine_url,
            c.settings.engine_model,
        )

    @property
    def engine(self) -> ChatEngine:
        """This thread's chat engine: loaded on first use, reloaded when its settings change.

        The thread that loads it owns it: only that thread may use or close it.
        """
        parts = self._parts()
        key = self._engine_key()
        if parts.engine is not None and parts.engine.key == key:
            return parts.engine.part
        if parts.engine is not None:
            log.info("the settings changed the chat model: reloading it")
        self._close_engine(parts)
        if self.settings.engine_url:  # a serving engine (desktop/engine/remote.py)
            engine = self.registry.remote_chat_engine(self._config)
        else:
            model_id = self.settings.chat_model
            factory = self.registry.chat_engine_factory(model_id)
            spec = self._spec_for("chat", factory is not None)
            build = factory or self.registry.default_chat_engine
            engine = build(self._config, spec)
        self._apply_default_style(engine)
        parts.engine = _Built(key, engine)
        return engine

    def _apply_default_style(self, engine: ChatEngine) -> None:
        """Start a new engine on the settings' style adapter, when it is there and fits.

        A missing or unfitting default is logged, never raised: the model still answers.
        """
        name = self.settings.style
        if not name:
            return
        from desktop.adapters import discover

        if self.settings.engine_url:
            offered = set(engine.info.adapters)  # what the server holds
        else:
            offered = {info.name for info in discover(self.locations.adapter_dirs)}
        if name not in offered:
            log.warning("the default style '%s' is not installed; answering without it", name)
            return
        try:
            engine.set_adapters([(name, self.settings.style_scale)])
        except FolioError as exc:
            log.warning("the default style '%s' was not applied: %s", name, exc)

    def engine_is_current(self) -> bool:
        """True if this thread's engine is loaded and built for the current settings."""
        built = self._parts().engine
        return built is not None and built.key == self._engine_key()

    def loaded_engine(self) -> ChatEngine | None:
        """This thread's engine if it is loaded, without loading it."""
        built = self._parts().engine
        return None if built is None else built.part

    @property
    def answerer(self) -> Answerer:
        """This thread's answerer: its searcher and engine, with the answer settings."""
        parts, s = self._parts(), self.settings
        # Quoting needs no language model: it answers even before (or without) one loads.
        searcher, engine = self.searcher, (self.engine if s.answer_mode == "write" else None)
        key = (id(searcher), id(engine), s.k, s.search_mode, s.max_answer_tokens, s.answer_mode)
        if parts.answerer is None or parts.answerer.key != key:
            answerer = Answerer(
                searcher,
                engine,
                k=s.k,
                mode=s.search_mode,
                max_tokens=s.max_answer_tokens,
                answer_mode=s.answer_mode,
                style_format=None if engine is None else self._style_format(engine),
            )
            parts.answerer = _Built(key, answerer)
        return parts.answerer.part

    def _style_format(self, engine: ChatEngine) -> Callable[[], str]:
        """The answer format declared by `engine`'s active style, looked up at each answer
        (the style can change between answers)."""
        from desktop.adapters.discovery import active_format

        dirs = self.locations.adapter_dirs
        return lambda: active_format(engine.active_adapters, dirs)

    # -- lifecycle -------------------------------------------------------------------------
    def _close_engine(self, parts: _ThreadParts) -> None:
        built, parts.engine, parts.answerer = parts.engine, None, None
        if built is not None:
            built.part.close()

    def release_thread(self) -> None:
        """Free what the calling thread built: its engine, then its connection."""
        with self._lock:
            parts = self._threads.pop(threading.get_ident(), None)
        if parts is None:
            return
        try:
            self._close_engine(parts)
        finally:
            library, parts.library = parts.library, None
            parts.indexer = parts.searcher = None
            if library is not None:
                library.close()

    # Closing a Session is releasing the calling thread's parts: other threads release theirs.
    close = release_thread

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
