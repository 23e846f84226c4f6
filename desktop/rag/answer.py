"""Ask a question of the library: retrieve, gate on relevance, then quote or write a cited
answer (`AnswerMode`: quoting is the default, desktop/rag/quote.py says why)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from desktop.cancel import CancelToken
from desktop.engine.api import ChatEngine
from desktop.library.modes import Mode
from desktop.library.search import Hit, Searcher
from desktop.rag.budget import (
    DEFAULT_BUDGET,
    Budget,
    budget_for,
    prompt_passages,
    select_passages,
)
from desktop.rag.grounding import Support, ground
from desktop.rag.modes import AnswerMode
from desktop.rag.prompt import NOT_FOUND, Citation, citations_for, cited_numbers, messages_for
from desktop.rag.quote import Quote, choose, keyword_evidence
from desktop.rag.shape import PROSE, Shape

# Cosine similarities for MiniLM-class embedders, set on SciFact: with the best passage at
# 0.36 or more, 99.7% of SciFact's test questions are answered while 78% of off-topic XQuAD
# questions asked of the same library are declined. Weaker passages still help as context.
MIN_TOP_SIMILARITY = 0.36
MIN_PASSAGE_SIMILARITY = 0.25


@dataclass
class Answer:
    """A finished (or stopped) answer with the passages it cites and how long each stage took."""

    text: str
    citations: list[Citation]
    passages: list[Citation]
    timings_ms: dict[str, float] = field(default_factory=dict)
    tokens: int = 0
    found: bool = True
    stopped: bool = False
    support: list[Support] = field(default_factory=list)  # the passage sentence behind each [n]
    grounding: str = ""  # how the citations were checked (see desktop.rag.grounding)
    model_text: str = ""  # what the model wrote, before the check

    @property
    def tokens_per_s(self) -> float:
        gen_ms = self.timings_ms.get("total", 0.0) - self.timings_ms.get("first_token", 0.0)
        return (self.tokens - 1) / (gen_ms / 1000) if self.tokens > 1 and gen_ms > 0 else 0.0

    @property
    def how_made(self) -> str:
        """How the answer came, for a status line: the model's speed, or, when no model
        wrote it, "quoted" or "nothing relevant found"."""
        if self.tokens == 0:
            return "quoted" if self.found else "nothing relevant found"
        return f"{self.tokens_per_s:.1f} tokens/s"

    def to_json(self) -> dict[str, object]:
        return {
            "answer": self.text,
            "citations": [c.to_json() for c in self.citations],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "tokens": self.tokens,
            "tokens_per_s": round(self.tokens_per_s, 1),
            "found": self.found,
            "stopped": self.stopped,
            "support": [s.to_json() for s in self.support],
            "grounding": self.grounding,
        }


# Keyword evidence that passes a question the embedder scores low ("Who was the last
# keeper?" against a page about a lighthouse): the passage holds at least this share of
# the question's content words, and at least two of them.
MIN_KEYWORD_SHARE = 0.6
MIN_KEYWORD_WORDS = 2


def relevant(hits: Sequence[Hit], question: str = "") -> list[Hit]:
    """The passages worth answering from, or none when the library does not cover the question.

    A passage passes on meaning (its cosine similarity) or on keywords: keyword-only results
    (no similarity) pass, and so does a passage that holds most of the question's content
    words even when the embedder scores the question low.
    """

    def by_keywords(h: Hit) -> bool:
        held, share = keyword_evidence(question, h.chunk.text)
        return held >= MIN_KEYWORD_WORDS and share >= MIN_KEYWORD_SHARE

    sims = [h.similarity for h in hits if h.similarity is not None]
    if sims and max(sims) < MIN_TOP_SIMILARITY:
        return [h for h in hits if h.keyword_rank is not None and by_keywords(h)]
    return [
        h
        for h in hits
        if h.similarity is None or h.similarity >= MIN_PASSAGE_SIMILARITY or by_keywords(h)
    ]


class Answerer:
    """Retrieval plus generation, with citations mapped back to file, page and passage."""

    def __init__(
        self,
        searcher: Searcher,
        engine: ChatEngine | None,
        k: int = 5,
        mode: Mode = "hybrid",
        max_tokens: int = 384,
        budget: Budget | None = DEFAULT_BUDGET,
        answer_mode: AnswerMode = "write",
        style_format: Callable[[], str] | None = None,
    ) -> None:
        self.searcher = searcher
        self.engine = engine
        self.k = k
        self.mode: Mode = mode
        self.max_tokens = max_tokens
        self.budget = budget  # None: every relevant passage, whole (the naive context)
        # The shipped budget follows the prefill speed the engine measures on this machine
        # (budget_for); a budget passed in explicitly (benchmarks) stays as it is.
        self.adaptive = budget is DEFAULT_BUDGET
        self.answer_mode: AnswerMode = answer_mode
        # The active style's declared answer format (its sidecar's format_regex), asked for
        # at each answer because the style can change between answers without a new
        # Answerer; its shape (desktop.rag.shape) is kept whatever the model writes.
        self.style_format = style_format

    def ask(
        self,
        question: str,
        k: int | None = None,
        on_token: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
        history: Sequence[dict[str, str]] = (),
    ) -> Answer:
        """Answer `question` from the library, streaming text pieces to `on_token`."""
        started = time.perf_counter()
        result = self.searcher.search(question, k or self.k, self.mode)
        hits = relevant(result.hits, question)
        if self.answer_mode == "quote":
            return self._quote(question, hits, started, on_token)
        if self.engine is None:
            raise RuntimeError("writing an answer needs a language model: none was given")
        if self.adaptive:
            self.budget = budget_for(self.engine.prefill_tokens_per_s)
        if self.budget is not None:
            hits = select_passages(hits, self.budget)
        timings = {"retrieve": (time.perf_counter() - started) * 1000}
        passages = citations_for(hits)
        shape = Shape.of(self.style_format()) if self.style_format else PROSE
        if not passages:
            return _not_found(timings, started, on_token, shape.decline)

        messages = messages_for(question, self._prompt(question, passages), history)
        stream = self.engine.stream_chat(messages, max_tokens=self.max_tokens, cancel=cancel)
        pieces = collect_timed(stream, started, timings, on_token)
        raw = "".join(pieces).strip()
        stopped = cancel is not None and cancel.cancelled
        if stopped:  # a partial answer, as the user saw it: the [n] the check upholds
            held = {c.n for c in ground(raw, passages, question).cited}
            cited = [passages[n - 1] for n in cited_numbers(raw, len(passages)) if n in held]
            return Answer(raw, cited, passages, timings, len(pieces), stopped=True, model_text=raw)
        sims = [h.similarity for h in hits]

        @functools.cache
        def chosen() -> Quote | None:  # as Quote mode would answer, chosen once if needed
            return choose(question, passages, sims, self.searcher.embedder)

        def quoted() -> Support | None:  # nothing the model wrote held
            quote = chosen()
            return quote.support if quote is not None else None

        def answerable() -> Support | None:  # the model declined: do the passages answer?
            quote = chosen()
            return quote.support if quote is not None and quote.confident else None

        g = ground(raw, passages, question, shape, quoted, answerable)
        return Answer(
            g.text,
            g.cited,
            passages,
            timings,
            tokens=len(pieces),
            support=g.support,
            grounding=g.how,
            model_text=raw,
        )

    def _quote(
        self,
        question: str,
        hits: Sequence[Hit],
        started: float,
        on_token: Callable[[str], None] | None,
    ) -> Answer:
        """The passage sentence that answers, verbatim, or a decline when none is good enough."""
        timings = {"retrieve": (time.perf_counter() - started) * 1000}
        passages = citations_for(hits)
        sims = [h.similarity for h in hits]
        quote = choose(question, passages, sims, self.searcher.embedder)
        if quote is None or not quote.confident:
            return _not_found(timings, started, on_token)
        if on_token:
            on_token(quote.text)
        timings["first_token"] = timings["total"] = (time.perf_counter() - started) * 1000
        return Answer(
            quote.text,
            [quote.passage],
            passages,
            timings,
            tokens=0,
            support=[quote.support],
            grounding="quoted",
        )

    def _prompt(self, question: str, passages: list[Citation]) -> list[Citation]:
        """The passages as the model reads them: trimmed to the budget, if there is one."""
        if self.budget is None:
            return passages
        return prompt_passages(question, passages, self.budget)


def collect_timed(
    stream: Iterable[str],
    started: float,
    timings: dict[str, float],
    on_piece: Callable[[str], None] | None = None,
) -> list[str]:
    """Every piece of `stream`, passed on to `on_piece` as it comes; sets `timings`'
    first_token and total (milliseconds since `started`, a perf_counter reading)."""
    pieces: list[str] = []
    for piece in stream:
        if not pieces:
            timings["first_token"] = (time.perf_counter() - started) * 1000
        pieces.append(piece)
        if on_piece:
            on_piece(piece)
    timings["total"] = (time.perf_counter() - started) * 1000
    timings.setdefault("first_token", timings["total"])
    return pieces


def _not_found(
    timings: dict[str, float],
    started: float,
    on_token: Callable[[str], None] | None,
    text: str = NOT_FOUND,
) -> Answer:
    """The decline: nothing in the library answers the question (`text`: in the style's
    own words, when it declares them)."""
    if on_token:
        on_token(text)
    timings["first_token"] = timings["total"] = (time.perf_counter() - started) * 1000
    return Answer(text, [], [], timings, tokens=0, found=False)
