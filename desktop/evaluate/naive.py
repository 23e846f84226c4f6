"""The naive answer pipeline, the yardstick of `folio bench rag` and `folio eval squad`.

It answers exactly as Folio did before the speed work: the k relevant passages whole, the
published model file (SmolLM2 Q4_1), and no reuse of earlier prompts (the KV cache is
emptied before every question). It talks to llama-cpp-python directly (`Llama` and its
chat template), so it also gives raw llama-cpp-python's generation speed beside Folio's
engine in the same process. Sampling, threads, context and flash attention match the
engine's, so only the levers differ.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.config import Config
from desktop.engine.llm import default_threads
from desktop.evaluate.attribution import attribute
from desktop.library.search import Mode, Searcher
from desktop.rag.answer import Answer, collect_timed, relevant
from desktop.rag.budget import Budget, prompt_passages, select_passages
from desktop.rag.prompt import (
    NOT_FOUND,
    SYSTEM_PROMPT,
    Citation,
    citations_for,
    cited_numbers,
    user_message,
)

if TYPE_CHECKING:
    import llama_cpp
    from llama_cpp import llama_types

Messages = list[dict[str, str]]
STOCK_MODEL = "smollm2-135m-instruct"  # the published Q4_1 file: the naive baseline
FAST_MODEL = "smollm2-135m-instruct-q8_0"  # the Q8_0 file setup makes from it


def bench_config(library: Path, threads: int = 0) -> Config:
    """The user's configuration for `library`, with the model writing the answers (what these
    benchmarks measure; `folio eval answers` adds quoting beside it), and `threads` CPU
    threads for the models if it is not 0 (on a busy machine one thread is steadier than
    two: ../shared/FACTS.md)."""
    config = Config.from_environment(library)
    changes: dict[str, object] = {"answer_mode": "write"}
    if threads:
        changes["threads"] = threads
    return config.with_settings(config.settings.with_changes(**changes))


class RawModel:
    """A GGUF loaded by llama-cpp-python's high-level `Llama`, nothing of Folio's engine."""

    def __init__(self, path: Path, n_ctx: int = 4096, threads: int | None = None) -> None:
        from llama_cpp import Llama

        self.path = Path(path)
        self.llm: llama_cpp.Llama = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=threads or default_threads(),
            seed=0,
            flash_attn=True,  # as the engine
            verbose=False,
        )

    def prompt_tokens(self, messages: Messages) -> int:
        """Tokens of the messages' text (the chat template adds the same few to each)."""
        text = "\n".join(m["content"] for m in messages)
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages: Messages, max_tokens: int, reuse: bool = False) -> Iterator[str]:
        """Reply piece by piece; `reuse=False` empties the KV cache first (no prefix reuse)."""
        if not reuse:
            self.llm.reset()
        events = self.llm.create_chat_completion(
            messages=_llama_messages(messages),
            max_tokens=max_tokens,
            temperature=0.0,
            repeat_penalty=1.1,
            stream=True,
        )
        if isinstance(events, dict):  # only without stream=True
            raise TypeError("llama-cpp-python returned a whole completion, not a stream")
        try:
            for event in events:
                delta = event["choices"][0]["delta"].get("content")
                if isinstance(delta, str) and delta:
                    yield delta
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    def close(self) -> None:
        self.llm.close()


def _llama_messages(messages: Messages) -> list[llama_types.ChatCompletionRequestMessage]:
    """The same messages (role and content) as llama-cpp-python's typed request messages."""
    out: list[llama_types.ChatCompletionRequestMessage] = []
    for m in messages:
        role, content = m["role"], m["content"]
        if role == "system":
            out.append({"role": "system", "content": content})
        elif role == "user":
            out.append({"role": "user", "content": content})
        elif role == "assistant":
            out.append({"role": "assistant", "content": content})
        else:
            raise ValueError(f"a chat message with an unknown role: {role!r}")
    return out


def first_piece_ms(pieces: Iterator[object], started: float | None = None) -> float:
    """Milliseconds from `started` (a perf_counter reading; default: now) until `pieces`
    yields its first piece; the rest is not generated."""
    started = time.perf_counter() if started is None else started
    try:
        next(pieces, None)
        return (time.perf_counter() - started) * 1000
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


def rate(pieces: Iterator[str]) -> tuple[float, int]:
    """(tokens per second after the first, pieces) of a whole generation."""
    first = last = 0.0
    n = 0
    for _ in pieces:
        now = time.perf_counter()
        if n == 0:
            first = now
        last = now
        n += 1
    return ((n - 1) / (last - first) if n > 1 and last > first else 0.0), n


def messages_for(question: str, passages: Sequence[Citation]) -> Messages:
    """The prompt Folio sends: system prompt, numbered passages, the question."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_message(question, passages)},
    ]


@dataclass
class Context:
    """What one retrieval gives the model, whole (naive) and within the budget."""

    question: str
    passages: list[Citation]  # every relevant passage, whole: the naive context
    budgeted: list[Citation]  # the selected passages (full text, for citations)
    budget_prompt: list[Citation]  # the same, trimmed, as the model reads them
    retrieve_ms: float
    timings: dict[str, float] = field(default_factory=dict)


def retrieve(
    searcher: Searcher, question: str, k: int, budget: Budget, mode: Mode = "hybrid"
) -> Context:
    """Search once and build both contexts from the same hits."""
    started = time.perf_counter()
    result = searcher.search(question, k, mode)
    hits = relevant(result.hits, question)
    retrieve_ms = (time.perf_counter() - started) * 1000
    passages = citations_for(hits)
    selected = citations_for(select_passages(hits, budget))
    return Context(
        question,
        passages,
        selected,
        prompt_passages(question, selected, budget),
        retrieve_ms,
        result.timings_ms,
    )


def naive_answer(
    model: RawModel,
    context: Context,
    max_tokens: int,
    on_piece: Callable[[str], None] | None = None,
) -> Answer:
    """Answer from every relevant passage whole, with an empty KV cache (the naive way)."""
    timings = {"retrieve": context.retrieve_ms}
    if not context.passages:
        timings["first_token"] = timings["total"] = context.retrieve_ms
        return Answer(NOT_FOUND, [], [], timings, tokens=0, found=False)
    started = time.perf_counter() - context.retrieve_ms / 1000
    stream = model.stream(messages_for(context.question, context.passages), max_tokens)
    pieces = collect_timed(stream, started, timings, on_piece)
    text = "".join(pieces).strip()
    cited = attribute(text, cited_numbers(text, len(context.passages)), context.passages)
    return Answer(text, cited, context.passages, timings, tokens=len(pieces))
