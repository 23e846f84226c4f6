"""Score one answer: refusal, gold answer, citations of the gold passage, format.

Matching follows SQuAD's normalisation (lower case, no punctuation, no articles, single
spaces), so "the Denver Broncos." contains "Denver Broncos".
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from desktop.evaluate.attribution import attribute
from desktop.library.passage import Citation
from desktop.rag.prompt import cited_numbers

# Ways the default model and the adapters say that the passages lack the answer, and the
# relevance gate's own message. Deliberately broad: a refusal in any words counts.
_REFUSAL = re.compile(
    r"(?:documents?|passages?|texts?) (?:do not|don't|does not|doesn't) "
    r"(?:say|mention|contain|state|specify|provide)"
    r"|(?:not|never) (?:mentioned|stated|specified|provided|given) in the "
    r"(?:passages?|documents?)"
    r"|no (?:information|mention) (?:about|of|on|regarding)"
    r"|(?:couldn't|could not|cannot|can't|unable to) (?:find|determine|answer|tell)"
    r"|there is no (?:information|mention)"
    r"|i (?:don't|do not) know",
    re.IGNORECASE,
)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation + "‘’“”–—")


def normalize(text: str) -> str:
    """SQuAD-style normalisation for containment checks."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return " ".join(text.split())


def is_refusal(text: str) -> bool:
    """Whether an answer declines to answer (in any of the usual phrasings)."""
    return bool(_REFUSAL.search(text)) or not text.strip()


def contains_any(text: str, answers: Sequence[str]) -> bool:
    """Whether `text` contains one of the gold `answers` after normalisation."""
    norm = normalize(text)
    return any(a and normalize(a) in norm for a in answers if normalize(a))


@dataclass(frozen=True)
class Passage:
    """A passage as the model saw it, with what the eval knows about it."""

    text: str
    source: str  # document path (XQuAD: one file per paragraph)


@dataclass(frozen=True)
class Score:
    """The judgements on one answer."""

    refused: bool
    contains_gold: bool
    cites_fact: bool  # a citation points at a passage that contains the gold answer
    cites_gold_source: bool  # a citation points at a passage of the gold paragraph
    shown_cites_fact: bool  # a citation Folio shows (after its attribution) holds the answer
    format_ok: bool | None  # None: the relevance gate answered, not the model
    n_citations: int


def score_answer(
    text: str,
    passages: Sequence[Passage],
    answers: Sequence[str],
    gold_source: str,
    format_regex: str,
    found: bool = True,
) -> Score:
    """Judge `text`, an answer given from `passages` (`found` False: the gate declined)."""
    cited = cited_numbers(text, len(passages)) if found else []
    cited_passages = [passages[n - 1] for n in cited]
    numbered = [Citation.of_text(i, p.text, p.source) for i, p in enumerate(passages, start=1)]
    shown = attribute(text, cited, numbered) if found else []
    format_ok = (
        None
        if not found
        else bool(format_regex) and re.fullmatch(format_regex, text.strip()) is not None
    )
    return Score(
        refused=not found or is_refusal(text),
        contains_gold=found and contains_any(text, answers),
        cites_fact=any(contains_any(p.text, answers) for p in cited_passages),
        cites_gold_source=bool(gold_source)
        and any(p.source == gold_source for p in cited_passages),
        shown_cites_fact=any(contains_any(c.text, answers) for c in shown),
        format_ok=format_ok,
        n_citations=len(cited),
    )
