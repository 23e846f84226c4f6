"""llama-cpp-python's private state, touched here and nowhere else.

The engine needs a few things the high-level `Llama` class does not offer publicly: a hook
on its resource stack (so adapters are freed before the model), the record of the tokens
its KV cache holds (`input_ids`, `n_tokens`), and the Jinja chat formatter it builds from
the GGUF's template. They are read and written only through these functions, written for
one llama-cpp-python release: `WRITTEN_FOR`. The pin in pyproject.toml is that release,
and tests/test_llama_internals.py fails loudly when the installed version differs, so a
pin bump means re-reading llama-cpp-python's `llama.py` and `llama_chat_format.py` first.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import llama_cpp

log = logging.getLogger(__name__)

WRITTEN_FOR = "0.3.36"


def installed_version() -> str:
    return str(getattr(llama_cpp, "__version__", "unknown"))


def version_problem() -> str | None:
    """Why these helpers may not fit the installed llama-cpp-python, or None if they do."""
    found = installed_version()
    if found == WRITTEN_FOR:
        return None
    return (
        f"llama-cpp-python {found} is installed, but Folio's engine was written for "
        f"{WRITTEN_FOR}: reinstall Folio (the setup pins the right version)"
    )


def warn_if_mismatched() -> None:
    """Log once per engine if the installed version is not the one this module knows."""
    problem = version_problem()
    if problem:
        log.warning(problem)


class ChatPrompt(Protocol):
    """What a chat formatter returns: the prompt text and whether it holds special tokens."""

    prompt: str
    added_special: bool


ChatFormatter = Callable[..., ChatPrompt]


def on_close(llm: llama_cpp.Llama, callback: Callable[[], None]) -> None:
    """Run `callback` when `llm` is closed or collected, before its context and model go.

    `Llama` frees its resources through an ExitStack that unwinds in reverse order, so a
    callback pushed after construction runs first.
    """
    llm._stack.callback(callback)


def evaluated_tokens(llm: llama_cpp.Llama) -> list[int]:
    """The tokens whose keys and values the context holds, in order."""
    return [int(t) for t in llm.input_ids[: llm.n_tokens].tolist()]


def holds_prefix(llm: llama_cpp.Llama, tokens: Sequence[int]) -> bool:
    """True if the context's evaluated tokens start with `tokens` (and there are some)."""
    n = len(tokens)
    return 0 < n <= llm.n_tokens and llm.input_ids[:n].tolist() == list(tokens)


def set_evaluated(llm: llama_cpp.Llama, tokens: Sequence[int]) -> None:
    """Record that the context now holds exactly `tokens` (after restoring or cutting state).

    The next prompt that starts with them only evaluates the rest.
    """
    n = len(tokens)
    llm.input_ids[:n] = list(tokens)
    llm.n_tokens = n


def keep_evaluated(llm: llama_cpp.Llama, tokens: Sequence[int]) -> list[int]:
    """Keep only the part of the context that `tokens` starts with; returns what is left
    of `tokens` to evaluate. (The next `Llama.eval` drops the rest of the KV cache.)"""
    held = llm.input_ids[: llm.n_tokens].tolist()
    n = 0
    for a, b in zip(held, tokens, strict=False):
        if a != b:
            break
        n += 1
    llm.n_tokens = n
    return list(tokens[n:])


@contextlib.contextmanager
def abort_when(llm: llama_cpp.Llama, should_abort: Callable[[], bool]) -> Iterator[None]:
    """While inside, llama.cpp asks `should_abort` between the operations of every decode
    and gives up the decode (RuntimeError from `Llama.eval`) as soon as it says True.

    The callback goes through Python for every graph node, so it is set for prefills only,
    never for the token-by-token generation.
    """
    callback = llama_cpp.ggml_abort_callback(lambda _data: bool(should_abort()))
    llama_cpp.llama_set_abort_callback(llm.ctx, callback, ctypes.c_void_p(0))
    try:
        yield
    finally:
        llama_cpp.llama_set_abort_callback(
            llm.ctx, llama_cpp.ggml_abort_callback(0), ctypes.c_void_p(0)
        )
        del callback  # only now may the C side stop seeing it


def chat_formatter(llm: llama_cpp.Llama) -> ChatFormatter | None:
    """The Jinja formatter the chat handler of `llm` uses, or None if it uses another.

    `Llama` builds it privately from the GGUF's `tokenizer.chat_template`; this rebuilds
    the same one (same template, BOS/EOS texts and stop token) to render prompts ahead.
    """
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
    formatter: ChatFormatter = Jinja2ChatFormatter(
        template=template, eos_token=text(eos), bos_token=text(bos), stop_token_ids=[eos]
    )
    return formatter
