"""Find the token prefix that every prompt with the same system messages starts with.

The model's chat template is rendered for the leading system messages followed by two
different probe questions; the tokens the two renderings share are the fixed prefix.
This needs no knowledge of the template. Correctness never depends on it: llama-cpp-python
still compares the real prompt with the cached tokens and keeps only what matches.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

import llama_cpp

from desktop.engine.llama_internals import chat_formatter

log = logging.getLogger(__name__)

MIN_PREFIX_TOKENS = 8  # below this, saving the state costs more than it saves
_PROBES = ("Alpha?", "Zulu!")


class SystemPrefix:
    """Computes (and remembers) the shared prompt prefix for given system messages."""

    def __init__(self, llm: llama_cpp.Llama, max_entries: int = 16) -> None:
        self._llm = llm
        self._formatter = chat_formatter(llm)
        self._memo: OrderedDict[tuple[str, ...], tuple[int, ...]] = OrderedDict()
        self._max = max_entries

    def tokens_for(self, messages: Sequence[dict[str, str]]) -> tuple[int, ...]:
        """The fixed prefix tokens of a prompt for `messages` (empty: none worth caching)."""
        if self._formatter is None:
            return ()
        lead: list[dict[str, str]] = []
        for m in messages:
            if m.get("role") != "system":
                break
            lead.append({"role": "system", "content": m.get("content", "")})
        key = tuple(m["content"] for m in lead)
        cached = self._memo.get(key)
        if cached is not None:
            self._memo.move_to_end(key)
            return cached
        try:
            a, b = (self.render(lead + [{"role": "user", "content": p}]) for p in _PROBES)
        except Exception as exc:  # a template that cannot render probes: just don't cache
            log.debug("cannot find the system prefix: %s", exc)
            self._formatter = None
            return ()
        n = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            n += 1
        tokens = tuple(a[:n]) if n >= MIN_PREFIX_TOKENS else ()
        self._memo[key] = tokens
        if len(self._memo) > self._max:
            self._memo.popitem(last=False)
        return tokens

    def render(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The prompt tokens the chat handler will build for `messages`.

        Raises:
            RuntimeError: the model's chat format is not one this class can render.
        """
        if self._formatter is None:
            raise RuntimeError("no Jinja chat template to render")
        result = self._formatter(messages=list(messages))
        # The same tokenisation the chat handler applies to the rendered prompt.
        return list(
            self._llm.tokenize(
                result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
            )
        )
