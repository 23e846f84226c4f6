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
from typing import Any

log = logging.getLogger(__name__)

MIN_PREFIX_TOKENS = 8  # below this, saving the state costs more than it saves
_PROBES = ("Alpha?", "Zulu!")


class SystemPrefix:
    """Computes (and remembers) the shared prompt prefix for given system messages."""

    def __init__(self, llm: Any, max_entries: int = 16) -> None:
        self._llm = llm
        self._formatter = _formatter_for(llm)
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


def _formatter_for(llm: Any) -> Any:
    """The Jinja formatter matching the chat handler the Llama object will use, or None."""
    if getattr(llm, "chat_handler", None) is not None:
        return None
    if getattr(llm, "chat_format", None) != "chat_template.default":
        return None
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text(token: int) -> str:
        if token < 0:
            return ""
        return bytes(llm.detokenize([token], special=True)).decode("utf-8", "replace")

    eos, bos = llm.token_eos(), llm.token_bos()
    return Jinja2ChatFormatter(
        template=template, eos_token=text(eos), bos_token=text(bos), stop_token_ids=[eos]
    )
