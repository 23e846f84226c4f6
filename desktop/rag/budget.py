"""The context budget: fewer, better prompt tokens for the model to read.

Prefill is most of the wait for the first token on a CPU, and it grows with every prompt
token. So before the passages go into the prompt:
- each passage is cut down to the sentences that share the question's content words (with
  the sentence before a match when it fits: small models need the subject of a "which" or
  "it"), in their original order, elided parts marked with "…";
- when the best passage is decisive (first in both legs, or far ahead of the second by
  similarity), the weaker ones are left out.

The full passages stay the citations' text (the sources panel shows them whole); only the
prompt is trimmed. Measured alone against full passages in `folio bench rag` and `folio
eval squad`: see docs/BENCHMARKS.md.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from desktop.library.passage import Citation
from desktop.library.search import Hit


@dataclass(frozen=True)
class Budget:
    """Limits of the context the model reads.

    Attributes:
        passage_words: words kept from one passage (about 1.3 tokens each).
        total_words: words kept from all passages together.
        decisive_gap: the best passage's cosine similarity must lead the second's by this
            much for the others to be dropped (when it is not first in both legs).
        max_passages: passages at most, decisive or not.
    """

    passage_words: int = 45
    total_words: int = 70
    decisive_gap: float = 0.12
    max_passages: int = 2

    def __post_init__(self) -> None:
        if self.passage_words < 8 or self.total_words < self.passage_words:
            raise ValueError("passage_words must be >= 8 and total_words >= passage_words")
        if self.max_passages < 1:
            raise ValueError("max_passages must be at least 1")


# About 70 words of passages, so the prompt after the cached system prefix is about 120
# tokens: what a 2-core laptop prefills in under a second (about 150 tokens/s with Q4_1).
# Chosen with `folio eval squad` (40 XQuAD questions, quiet, in one run): first token 0.81 s
# p50 against 1.35 s with WIDE_BUDGET and 6.39 s naive; F1 20.8 against 21.6 and 14.6;
# citation of the gold paragraph 82.5 % against 85.0 % and 82.5 % (docs/BENCHMARKS.md).
DEFAULT_BUDGET = Budget()
# The budget shipped before: up to 3 passages, 90 words each, 200 in all. Kept so `folio
# eval squad --pipelines wide` measures it beside the default.
WIDE_BUDGET = Budget(passage_words=90, total_words=200, max_passages=3)

# Sizing the budget by the measured prefill speed: the first token should come within
# TARGET_FIRST_TOKEN_S, and about PROMPT_OVERHEAD_TOKENS of each prompt are not passages
# (the question, the instruction, the chat template); a word is about 1.3 tokens.
TARGET_FIRST_TOKEN_S = 0.8
PROMPT_OVERHEAD_TOKENS = 60
TOKENS_PER_WORD = 1.3
MAX_WORDS = 400


def budget_for(prefill_tokens_per_s: float | None) -> Budget:
    """The budget whose prompt this machine reads within TARGET_FIRST_TOKEN_S.

    A 2-core laptop (about 150 tokens/s with the default model) gets DEFAULT_BUDGET, 70
    words; a faster machine gets more words and more passages, up to MAX_WORDS (a GPU).
    Unknown speed (nothing measured yet): the default.
    """
    if not prefill_tokens_per_s or prefill_tokens_per_s <= 0:
        return DEFAULT_BUDGET
    tokens = TARGET_FIRST_TOKEN_S * prefill_tokens_per_s - PROMPT_OVERHEAD_TOKENS
    words = min(MAX_WORDS, int(tokens / TOKENS_PER_WORD))
    if words <= DEFAULT_BUDGET.total_words:
        return DEFAULT_BUDGET
    passages = 2 if words < 150 else 3 if words < 280 else 4
    per_passage = max(DEFAULT_BUDGET.passage_words, min(120, words // passages + 20))
    return Budget(passage_words=per_passage, total_words=words, max_passages=passages)


_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    """a an and are as at be been but by can could did do does for from had has have how i
    if in into is it its of on or our so than that the their them then there these they this
    those to was we were what when where which while who whom whose why will with would you
    your not no also about many much more most other some such only""".split()
)


def _stem(word: str) -> str:
    """A crude suffix strip, enough to match "produced" with "produce" or "turbines"."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    """Lower-cased, stemmed words of `text` that are not function words."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOP]


def sentences(text: str) -> list[str]:
    """Split a passage into sentences (on . ! ? followed by a capital or digit)."""
    parts = [p.strip() for p in _SENTENCE.split(text.strip())]
    return [p for p in parts if p]


def decisive(hits: Sequence[Hit], gap: float) -> bool:
    """Is the best hit clearly the answer's source, so the others only add tokens?"""
    if len(hits) < 2:
        return True
    best, second = hits[0], hits[1]
    if best.vector_rank == 1 and best.keyword_rank == 1:
        return True
    if best.similarity is not None and second.similarity is not None:
        return best.similarity - second.similarity >= gap
    return False


def select_passages(hits: Sequence[Hit], budget: Budget = DEFAULT_BUDGET) -> list[Hit]:
    """The hits worth putting in the prompt: the best alone when it is decisive."""
    if not hits:
        return []
    if decisive(hits, budget.decisive_gap):
        return [hits[0]]
    return list(hits[: budget.max_passages])


def trim(question: str, text: str, max_words: int, weights: dict[str, float]) -> str:
    """The sentences of `text` that matter to `question`, within `max_words` words."""
    parts = sentences(text)
    lengths = [len(p.split()) for p in parts]
    if sum(lengths) <= max_words:
        return text.strip()
    wanted = set(content_words(question))
    # Summed in a fixed order: over a set, the order (and so the last bits of a float sum)
    # changes with Python's string hashing, and sentences that tie would swap between runs.
    scores = [
        sum(weights.get(w, 0.0) for w in sorted(set(content_words(p)) & wanted)) for p in parts
    ]
    keep: set[int] = set()
    used = 0
    for i in sorted(range(len(parts)), key=lambda j: (-scores[j], j)):
        if scores[i] <= 0 and keep:
            break
        for j in (i, i - 1):  # the match, then the sentence that introduces it
            if 0 <= j < len(parts) and j not in keep and used + lengths[j] <= max_words:
                keep.add(j)
                used += lengths[j]
        if used >= max_words:
            break
    if not keep:  # a first sentence longer than the budget: its first words
        return " ".join(parts[0].split()[:max_words]) + " …"
    out: list[str] = []
    for i in sorted(keep):
        if out and i - 1 not in keep:
            out.append("…")
        out.append(parts[i])
    if max(keep) < len(parts) - 1:
        out.append("…")
    return " ".join(out)


def _idf(question: str, texts: Sequence[str]) -> dict[str, float]:
    """Inverse sentence frequency of the question's words among the passages' sentences:
    a word every sentence has tells nothing about which sentence answers."""
    pool = [set(content_words(s)) for t in texts for s in sentences(t)]
    df = Counter(w for words in pool for w in words)
    n = max(1, len(pool))
    return {w: math.log(1 + n / (1 + df[w])) for w in set(content_words(question))}


def prompt_passages(
    question: str, passages: Sequence[Citation], budget: Budget = DEFAULT_BUDGET
) -> list[Citation]:
    """Copies of `passages` (already selected) with their text trimmed for the prompt,
    renumbered 1..n in order."""
    weights = _idf(question, [p.text for p in passages])
    left = budget.total_words
    out = []
    # A lone passage may fill the whole budget: at 45 words the sentence holding a SQuAD
    # answer survived the trim for 79 % of 2,000 training questions, at 70 words 91 %.
    per_passage = budget.passage_words if len(passages) > 1 else budget.total_words
    for n, p in enumerate(passages, start=1):
        allowance = min(per_passage, left)
        if allowance < 8:
            break
        text = trim(question, p.text, allowance, weights)
        left -= len(text.split())
        out.append(p.renumbered(n, text))
    return out
