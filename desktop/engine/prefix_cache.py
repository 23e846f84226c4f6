"""Saved KV state of the fixed system-prompt prefix, one per adapter set, bounded by bytes.

The KV cache of a prompt depends on the adapters active when it was computed: a prefix
computed under one adapter set is wrong under any other. So entries are keyed by the
adapter set *and* the prefix tokens, and the engine restores only an exact match.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import llama_cpp

from desktop.engine.llama_internals import holds_prefix, set_evaluated

SEQ = 0  # llama-cpp-python's high-level Llama keeps everything in sequence 0


@dataclass(frozen=True, eq=False)
class PrefixState:
    """The sequence state of `tokens` (positions 0..len-1) as llama.cpp serialised it."""

    tokens: tuple[int, ...]
    data: bytearray

    @property
    def n_bytes(self) -> int:
        return len(self.data)


class PrefixStateCache:
    """An LRU of prefix states whose total size stays under `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, PrefixState] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    @property
    def n_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def get(self, key: Hashable) -> PrefixState | None:
        state = self._entries.get(key)
        if state is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return state

    def put(self, key: Hashable, state: PrefixState) -> bool:
        """Store `state`, evicting the least recently used; False if it alone is too big."""
        if state.n_bytes > self.max_bytes:
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.n_bytes
        self._entries[key] = state
        self._bytes += state.n_bytes
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.n_bytes
        return True

    def discard_where(self, predicate: Callable[[Hashable], bool]) -> int:
        """Drop every entry whose key matches; returns how many went."""
        doomed = [k for k in self._entries if predicate(k)]
        for k in doomed:
            self._bytes -= self._entries.pop(k).n_bytes
        return len(doomed)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


def capture_prefix(llm: llama_cpp.Llama, tokens: Sequence[int]) -> PrefixState | None:
    """Cut the KV cache back to `tokens` (which it must hold) and serialise it.

    Everything after the prefix is dropped: call this only when that part is about to be
    invalidated anyway (an adapter switch).
    """
    if not holds_prefix(llm, tokens):
        return None
    ctx = llm.ctx
    n = len(tokens)
    mem = llama_cpp.llama_get_memory(ctx)
    if not llama_cpp.llama_memory_seq_rm(mem, -1, n, -1):
        return None
    set_evaluated(llm, tokens)
    size = llama_cpp.llama_state_seq_get_size(ctx, SEQ)
    buf = bytearray(size)
    written = llama_cpp.llama_state_seq_get_data(
        ctx, (ctypes.c_uint8 * size).from_buffer(buf), size, SEQ
    )
    if written <= 0:
        return None
    del buf[written:]
    return PrefixState(tuple(int(t) for t in tokens), buf)


def restore_prefix(llm: llama_cpp.Llama, state: PrefixState) -> bool:
    """Replace the context's contents with `state`; the next prompt reuses it as a prefix."""
    ctx = llm.ctx
    forget_all(llm)
    size = state.n_bytes
    read = llama_cpp.llama_state_seq_set_data(
        ctx, (ctypes.c_uint8 * size).from_buffer(state.data), size, SEQ
    )
    if read != size:
        forget_all(llm)
        return False
    set_evaluated(llm, state.tokens)
    return True


def forget_all(llm: llama_cpp.Llama) -> None:
    """Empty the KV cache and the high-level token record, so no prefix is reused."""
    llm.reset()
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(llm.ctx), False)
