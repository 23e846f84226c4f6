"""The prefix-state LRU: bounded by bytes, least recently used evicted first."""

from __future__ import annotations

import pytest

from desktop.engine.prefix_cache import PrefixState, PrefixStateCache


def state(n_bytes: int, tokens: tuple[int, ...] = (1, 2, 3)) -> PrefixState:
    return PrefixState(tokens, bytearray(n_bytes))


def test_lru_eviction_keeps_the_byte_bound() -> None:
    cache = PrefixStateCache(max_bytes=100)
    assert cache.put("a", state(40)) and cache.put("b", state(40))
    assert cache.get("a") is not None  # a is now the most recently used
    assert cache.put("c", state(40))  # evicts b, the least recently used
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.n_bytes == 80 <= cache.max_bytes
    assert cache.get("b") is None
    assert (cache.hits, cache.misses) == (1, 1)


def test_replacing_an_entry_counts_its_bytes_once() -> None:
    cache = PrefixStateCache(max_bytes=100)
    cache.put("a", state(60))
    cache.put("a", state(30))
    assert cache.n_bytes == 30 and len(cache) == 1


def test_an_entry_bigger_than_the_bound_is_not_stored() -> None:
    cache = PrefixStateCache(max_bytes=10)
    assert not cache.put("big", state(11))
    assert len(cache) == 0 and cache.n_bytes == 0
    disabled = PrefixStateCache(max_bytes=0)
    assert not disabled.put("a", state(1))


def test_discard_where_and_clear() -> None:
    cache = PrefixStateCache(max_bytes=1000)
    for key in ("x1", "x2", "y1"):
        cache.put(key, state(10))
    assert cache.discard_where(lambda k: str(k).startswith("x")) == 2
    assert list(k for k in ("x1", "x2", "y1") if k in cache) == ["y1"]
    assert cache.n_bytes == 10
    cache.clear()
    assert len(cache) == 0 and cache.n_bytes == 0


def test_negative_bound_is_refused() -> None:
    with pytest.raises(ValueError):
        PrefixStateCache(-1)
