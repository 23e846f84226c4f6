"""Answer by quoting: the passage sentence that answers the question, verbatim, with its [n].

Measured on 200 XQuAD questions (`folio eval answers`, docs/BENCHMARKS.md), quoting the
right sentence holds the answer about twice as often as anything the 135M-parameter default
model writes, in a tenth of the time, and its citation cannot point at the wrong passage: the
quoted sentence is the citation. So quoting is what a new install answers with; the model
writes when the user picks "Write" (and a style adapter, if any).

The sentence is chosen among the top passages' sentences by a linear score of:
- its cosine similarity to the question (the library's own embedder);
- the share of the question's content words it holds (keyword evidence);
- its passage's similarity to the question and rank (context: the right passage first);
- whether it holds what the question asks for ("when" wants a date, "how many" a number).
The weights and the decline threshold were chosen on questions from the SQuAD v1.1
*training* set (`python -m desktop.evaluate.quote_tuning`), never on the evaluation sets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from desktop.embed.base import Embedder
from desktop.library.passage import Citation
from desktop.rag.budget import content_words, sentences
from desktop.rag.grounding import Support, one_line, with_mark


@dataclass(frozen=True)
class Weights:
    """The score's weights (see the module docstring) and the least score worth quoting."""

    keywords: float
    passage: float
    rank: float
    answer_type: float
    min_score: float


# Chosen on 500 SQuAD v1.1 *training* questions over 240 paragraphs of 48 articles
# (`python -m desktop.evaluate.quote_tuning`; docs/bench/quote-tuning-squad-train.json):
# the sentence holds the gold answer for 81.2 % of them, against 73.4 % for similarity
# alone; the runners-up all reach 81.0 %, a plateau. The threshold (the tool's rule: the
# lowest declining 90 % once the article is gone, refusing at most 5 %) refuses 2.4 % of
# answerable questions and declines 91.0 % without their article (the gate alone: 70.4 %).
WEIGHTS = Weights(keywords=1.5, passage=1.0, rank=-0.05, answer_type=0.1, min_score=1.3)
QUOTE_PASSAGES = 3  # sentences are drawn from the best passages only

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE = rf"\b(?:1[0-9]{{3}}|20[0-9]{{2}})s?\b|\b(?:{_MONTHS})\b|\bcentur"
_NUMBER = (
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|"
    r"thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|"
    r"trillion|dozen|several|few|half)s?\b"
)
# What a question asks for, by its wording, and what a sentence that answers it holds.
_ASKS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (re.compile(asks, re.I), re.compile(holds, re.I))
    for asks, holds in (
        (r"\bwhat (?:year|decade|century)\b|\bwhen\b", _DATE),
        (r"\bwhat percent(?:age)?\b", r"%|percent"),
        (r"\bhow (?:many|much|long|old|far|large|big|tall|high)\b", _NUMBER),
    )
)


def asks_for(question: str) -> re.Pattern[str] | None:
    """What a sentence answering `question` must hold, if its wording says (None: it doesn't)."""
    for asks, holds in _ASKS:
        if asks.search(question):
            return holds
    return None


def keyword_evidence(question: str, passage: str) -> tuple[int, float]:
    """(how many, what share) of the question's content words the passage holds."""
    wanted = set(content_words(question))
    if not wanted:
        return 0, 0.0
    held = len(wanted & set(content_words(passage)))
    return held, held / len(wanted)


def score(
    question: str,
    sentence: str,
    similarity: float,
    passage_similarity: float,
    rank: int,
    weights: Weights = WEIGHTS,
) -> float:
    """A candidate sentence's score (the module docstring's terms): what `choose` ranks
    by, and what the tuning recipe (desktop/evaluate/quote_tuning.py) weighs."""
    holds = asks_for(question)
    typed = 0.0 if holds is None else (1.0 if holds.search(sentence) else -1.0)
    return (
        similarity
        + weights.keywords * keyword_evidence(question, sentence)[1]
        + weights.passage * passage_similarity
        + weights.rank * rank
        + weights.answer_type * typed
    )


@dataclass(frozen=True)
class Quote:
    """A passage sentence chosen to answer a question, and how well it scored."""

    passage: Citation
    sentence: str
    start: int  # the sentence's character span in the passage's text
    end: int
    score: float
    min_score: float = WEIGHTS.min_score

    @property
    def confident(self) -> bool:
        """Is the sentence likely to answer? (Below the threshold Folio declines instead.)"""
        return self.score >= self.min_score

    @property
    def text(self) -> str:
        """The sentence, word for word, with its [n] before the final stop. A hard-wrapped
        source (a text or Markdown file's line breaks) reads as one line: runs of white
        space are one space here, while `sentence`, `start` and `end` keep the passage's
        own characters for the highlight."""
        return with_mark(one_line(self.sentence), self.passage.n)

    @property
    def support(self) -> Support:
        return Support(self.passage.n, self.sentence, self.start, self.end)


_BLOCK = re.compile(r"\n\s*\n")
MIN_QUOTE_WORDS = 4  # shorter pieces are headings or captions, not answers


def passage_sentences(text: str) -> list[str]:
    """The sentences a quote can be: split at sentence ends and at blank lines (so a heading
    above a paragraph is never quoted with its first sentence), at least MIN_QUOTE_WORDS
    words and some content words each."""
    return [
        s
        for block in _BLOCK.split(text)
        for s in sentences(block)
        if len(s.split()) >= MIN_QUOTE_WORDS and content_words(s)
    ]


def _span(text: str, sentence: str) -> tuple[int, int]:
    start = text.find(sentence)
    return (start, start + len(sentence)) if start >= 0 else (0, 0)


def choose(
    question: str,
    passages: Sequence[Citation],
    similarities: Sequence[float | None],
    embedder: Embedder,
    weights: Weights = WEIGHTS,
) -> Quote | None:
    """The best-scoring sentence of the first `QUOTE_PASSAGES` passages (None: no sentence).

    Args:
        similarities: each passage's cosine similarity to the question (None where the
            passage came from the keyword leg only).
    """
    pool = [
        (rank, c, s)
        for rank, c in enumerate(passages[:QUOTE_PASSAGES])
        for s in passage_sentences(c.text)
    ]
    if not pool:
        return None
    q = embedder.embed_query(question)
    sims = np.asarray(embedder.embed_many([s for _, _, s in pool])) @ np.asarray(q)
    scores = [
        score(question, s, float(sim), similarities[rank] or 0.0, rank, weights)
        for (rank, _c, s), sim in zip(pool, sims, strict=True)
    ]
    best = int(np.argmax(scores))
    _, c, s = pool[best]
    start, end = _span(c.text, s)
    return Quote(c, s, start, end, scores[best], weights.min_score)
