"""LoRA adapters hot-swapped on the resident model, with a KV cache that stays correct.

`AdapterPool` owns the native adapters (one `llama_adapter_lora_init` each, one
`llama_adapter_lora_free` each). `AdapterSwitcher` applies adapter sets with
`llama_set_adapters_lora` and keeps the KV cache honest: everything computed under the old
set is dropped on a switch, and the system-prompt prefix of each set is saved so that
switching back restores it instead of prefilling it again.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp

from desktop.adapters import (
    AdapterDirs,
    AdapterInfo,
    check_scale,
    find_adapter,
    inspect,
    require_compatible,
)
from desktop.engine.chat_prefix import SystemPrefix
from desktop.engine.llama_internals import holds_prefix
from desktop.engine.prefix_cache import (
    PrefixStateCache,
    capture_prefix,
    forget_all,
    restore_prefix,
)
from desktop.errors import AdapterError

log = logging.getLogger(__name__)

FileKey = tuple[str, int, int]  # resolved path, size, mtime_ns
AdapterRef = str | Path | AdapterInfo
AdapterSpec = tuple[AdapterRef, float]


def file_key(path: Path) -> FileKey:
    st = os.stat(path)
    return (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@dataclass(eq=False)
class LoadedAdapter:
    """One adapter loaded into llama.cpp; `handle` is None once freed."""

    info: AdapterInfo
    key: FileKey
    handle: Any  # ctypes POINTER(c_void_p); llama_cpp annotates it c_void_p. None once freed


class AdapterPool:
    """Owns the adapters loaded on one model and frees each exactly once.

    `close()` must run before the model is freed (the engine registers it on the Llama
    object's own exit stack, which unwinds in reverse order of allocation).
    """

    def __init__(self, llm: llama_cpp.Llama, cache_dir: Path | None = None) -> None:
        self._llm = llm
        self._cache_dir = cache_dir
        self._by_key: dict[FileKey, LoadedAdapter] = {}
        self._active: tuple[LoadedAdapter, ...] = ()
        self.closed = False

    @property
    def loaded(self) -> tuple[LoadedAdapter, ...]:
        return tuple(self._by_key.values())

    def by_name(self, name: str, installed: bool = True) -> LoadedAdapter | None:
        """The loaded adapter called `name`: with `installed`, only an installed one (a file
        loaded by its path may share an installed adapter's name, and never answers for
        it); otherwise any, the installed first."""
        named = [a for a in self._by_key.values() if a.info.name == name]
        named.sort(key=lambda a: a.info.source == "file")
        if installed:
            named = [a for a in named if a.info.source != "file"]
        return named[0] if named else None

    def by_key(self, key: FileKey) -> LoadedAdapter | None:
        return self._by_key.get(key)

    def load(self, info: AdapterInfo, model_path: Path) -> LoadedAdapter:
        """Validate `info` against the model, then load it (once per file version).

        Raises:
            AdapterError: the adapter does not fit the model or llama.cpp refused it.
        """
        self._check_open()
        try:
            key = file_key(info.path)
        except OSError as exc:
            raise AdapterError(f"adapter '{info.name}' cannot be read: {exc}") from exc
        existing = self._by_key.get(key)
        if existing is not None:
            return existing
        # Never hand llama.cpp a file it may abort on: the header is checked in Python first.
        require_compatible(info, model_path, self._cache_dir)
        handle = llama_cpp.llama_adapter_lora_init(self._llm.model, str(info.path).encode("utf-8"))
        if not handle:
            raise AdapterError(
                f"llama.cpp could not load adapter '{info.name}' ({info.path}) "
                f"for model {Path(model_path).name}"
            )
        loaded = LoadedAdapter(info, key, handle)
        self._by_key[key] = loaded
        return loaded

    def apply(self, pairs: Sequence[tuple[LoadedAdapter, float]]) -> None:
        """Make exactly `pairs` active on the context (an empty sequence: none).

        Raises:
            AdapterError: llama.cpp refused the set (the context then has no adapters).
        """
        self._check_open()
        n = len(pairs)
        if n:
            handles = (llama_cpp.llama_adapter_lora_p_ctypes * n)(*(a.handle for a, _ in pairs))
            scales = (ctypes.c_float * n)(*(s for _, s in pairs))
            rc = llama_cpp.llama_set_adapters_lora(self._llm.ctx, handles, n, scales)
        else:
            rc = llama_cpp.llama_set_adapters_lora(self._llm.ctx, None, 0, None)
        if rc != 0:
            llama_cpp.llama_set_adapters_lora(self._llm.ctx, None, 0, None)
            self._active = ()
            names = ", ".join(a.info.name for a, _ in pairs)
            raise AdapterError(f"llama.cpp could not apply adapters {names} (code {rc})")
        self._active = tuple(a for a, _ in pairs)

    def free(self, adapter: LoadedAdapter) -> None:
        """Free one adapter; it must not be active on the context."""
        if adapter in self._active:
            raise AdapterError(f"adapter '{adapter.info.name}' is active; unset it first")
        if self._by_key.get(adapter.key) is adapter:
            del self._by_key[adapter.key]
        if adapter.handle is not None:
            llama_cpp.llama_adapter_lora_free(adapter.handle)
            adapter.handle = None

    def close(self) -> None:
        """Detach every adapter from the context, then free them all. Idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._active and self._llm.ctx is not None:
            llama_cpp.llama_set_adapters_lora(self._llm.ctx, None, 0, None)
        self._active = ()
        for adapter in list(self._by_key.values()):
            if adapter.handle is not None:
                llama_cpp.llama_adapter_lora_free(adapter.handle)
                adapter.handle = None
        self._by_key.clear()

    def _check_open(self) -> None:
        if self.closed:
            raise AdapterError("the engine is closed")


@dataclass(frozen=True)
class SwitchStats:
    """Counters for tests and benchmarks."""

    switches: int
    prefix_saves: int
    prefix_restores: int
    cache_bytes: int
    cache_entries: int


class AdapterSwitcher:
    """The adapter set of one context, and the per-set prefix states.

    Args:
        llm: the llama_cpp.Llama whose context and model are used.
        model_path: the base model file, to validate adapters against.
        cache_bytes: bound on the saved prefix states (0 disables them).
        adapter_dirs: where adapters given by name are looked for.
        cache_dir: where the model's tensor layout is cached between runs (None: memory).
    """

    def __init__(
        self,
        llm: llama_cpp.Llama,
        model_path: Path,
        cache_bytes: int,
        adapter_dirs: AdapterDirs = (),
        cache_dir: Path | None = None,
    ) -> None:
        self._llm = llm
        self._model_path = Path(model_path)
        self._dirs = adapter_dirs
        self.pool = AdapterPool(llm, cache_dir)
        self.cache = PrefixStateCache(cache_bytes)
        self._prefix = SystemPrefix(llm)
        self._set: tuple[tuple[LoadedAdapter, float], ...] = ()
        self._last_prefix: tuple[int, ...] = ()
        self._switches = 0
        self._saves = 0
        self._restores = 0

    @property
    def active(self) -> tuple[tuple[str, float], ...]:
        return tuple((a.info.name, s) for a, s in self._set)

    @property
    def stats(self) -> SwitchStats:
        return SwitchStats(
            self._switches, self._saves, self._restores, self.cache.n_bytes, len(self.cache)
        )

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> tuple[int, int]:
        """(prompt tokens, cacheable prefix tokens) for `messages`; (0, 0) if unknown."""
        try:
            return len(self._prefix.render(messages)), len(self._prefix.tokens_for(messages))
        except RuntimeError:
            return 0, 0

    def render(self, messages: Sequence[dict[str, str]]) -> list[int] | None:
        """The prompt tokens the chat handler will evaluate for `messages` (None: unknown)."""
        try:
            return self._prefix.render(messages)
        except RuntimeError:
            return None

    def _set_key(self, pairs: Sequence[tuple[LoadedAdapter, float]]) -> Hashable:
        return tuple((a.key, s) for a, s in pairs)

    def resolve(self, ref: AdapterRef) -> LoadedAdapter:
        """Find (loading if needed) the adapter `ref` names: a name, a .gguf path or info."""
        if isinstance(ref, str):
            loaded = self.pool.by_name(ref)
            if loaded is not None:
                if _unchanged(loaded):
                    return loaded
                if all(a is not loaded for a, _ in self._set):
                    self._free(loaded)  # the file changed on disk: load it afresh
            info = find_adapter(ref, self._dirs)
        else:
            path = ref.path if isinstance(ref, AdapterInfo) else Path(ref)
            try:
                loaded = self.pool.by_key(file_key(path))
            except OSError as exc:
                raise AdapterError(f"adapter file cannot be read: {path} ({exc})") from exc
            if loaded is not None:
                return loaded
            info = ref if isinstance(ref, AdapterInfo) else inspect(path)
        return self.pool.load(info, self._model_path)

    def set(self, specs: Sequence[AdapterSpec]) -> None:
        """Make `specs` the active adapters; see `Engine.set_adapters`."""
        pairs: list[tuple[LoadedAdapter, float]] = []
        seen: set[FileKey] = set()
        for ref, raw_scale in specs:
            label = ref.name if isinstance(ref, (AdapterInfo, Path)) else str(ref)
            try:
                scale = check_scale(raw_scale, label)
            except ValueError as exc:
                raise AdapterError(str(exc)) from None
            adapter = self.resolve(ref)
            if adapter.key in seen:
                raise AdapterError(f"adapter '{adapter.info.name}' is given twice")
            seen.add(adapter.key)
            if scale > 0.0:  # scale 0 is exactly "not applied": same set, same cache
                pairs.append((adapter, scale))
        self._switch(tuple(pairs))

    def _switch(self, pairs: tuple[tuple[LoadedAdapter, float], ...]) -> None:
        if self._set_key(pairs) == self._set_key(self._set):
            return
        self._save_prefix()
        try:
            self.pool.apply(pairs)
        except AdapterError:
            self._set = ()
            raise
        finally:
            # Whatever the KV cache holds was computed under the previous adapters.
            forget_all(self._llm)
        self._set = pairs
        self._switches += 1

    def _save_prefix(self) -> None:
        prefix = self._last_prefix
        if not prefix or self.cache.max_bytes == 0 or not holds_prefix(self._llm, prefix):
            return
        key = (self._set_key(self._set), prefix)
        if key in self.cache:
            return
        state = capture_prefix(self._llm, prefix)
        if state is not None and self.cache.put(key, state):
            self._saves += 1

    def before_prompt(self, messages: Sequence[dict[str, str]]) -> tuple[int, ...]:
        """Restore this set's saved prefix for `messages` if the context lacks it.

        Returns the prefix tokens (empty when there is none worth keeping).
        """
        if self.cache.max_bytes == 0:
            return ()
        prefix = self._prefix.tokens_for(messages)
        self._last_prefix = prefix
        if not prefix or holds_prefix(self._llm, prefix):
            return prefix
        state = self.cache.get((self._set_key(self._set), prefix))
        if state is not None and restore_prefix(self._llm, state):
            self._restores += 1
        return prefix

    def warm(self, messages: Sequence[dict[str, str]]) -> bool:
        """Have the prefix of `messages` in the context: restored, or evaluated now."""
        prefix = self.before_prompt(messages)
        if not prefix:
            return False
        if not holds_prefix(self._llm, prefix):
            forget_all(self._llm)
            self._llm.eval(list(prefix))
        return True

    def unload(self, ref: AdapterRef) -> None:
        """Free an adapter (first taking it out of the active set if it is in it)."""
        adapter: LoadedAdapter | None
        if isinstance(ref, str):
            adapter = self.pool.by_name(ref, installed=False)
        else:
            try:
                adapter = self.pool.by_key(
                    file_key(ref.path if isinstance(ref, AdapterInfo) else ref)
                )
            except OSError:
                adapter = None
        if adapter is None:
            raise AdapterError(f"adapter '{ref}' is not loaded")
        if any(a is adapter for a, _ in self._set):
            self._switch(tuple((a, s) for a, s in self._set if a is not adapter))
        self._free(adapter)

    def _free(self, adapter: LoadedAdapter) -> None:
        gone = adapter.key
        self.cache.discard_where(lambda key: _mentions(key, gone))
        self.pool.free(adapter)

    def close(self) -> None:
        self.cache.clear()
        self._set = ()
        self.pool.close()


def _unchanged(adapter: LoadedAdapter) -> bool:
    try:
        return file_key(adapter.info.path) == adapter.key
    except OSError:
        return False


def _mentions(cache_key: Hashable, adapter_key: FileKey) -> bool:
    set_key = cache_key[0] if isinstance(cache_key, tuple) else ()
    return any(fk == adapter_key for fk, _ in set_key)
