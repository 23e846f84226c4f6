"""Word-overlap attribution: the passages an answer draws on, as Folio judged them before
its citation check (desktop/rag/grounding.py). Kept for the naive baseline (the pipeline
as it was) and the adapter evaluation's "shown" figure, so both stay comparable with the
reports measured before."""

from __future__ import annotations

import re
from collections.abc import Sequence

from desktop.library.passage import Citation

_WORDS = re.compile(r"[a-z0-9]{3,}")


# Share of an answer's content words a passage must contain to count as its source.
MIN_SUPPORT = 0.3


def _support(answer_words: set[str], passage: Citation) -> float:
    if not answer_words:
        return 0.0
    return len(answer_words & set(_WORDS.findall(passage.text.lower()))) / len(answer_words)


def attribute(answer: str, cited: Sequence[int], passages: Sequence[Citation]) -> list[Citation]:
    """The passages an answer really draws on.

    Citations the model wrote are kept when the passage supports the answer's wording (small
    models cite the wrong number); when none survive, the answer is attributed to the
    passages that share most of its content words.
    """
    words = set(_WORDS.findall(answer.lower()))
    kept = [passages[n - 1] for n in cited if _support(words, passages[n - 1]) >= MIN_SUPPORT]
    if kept:
        return kept
    scored = [(_support(words, c), c) for c in passages]
    scored = [pair for pair in scored if pair[0] >= MIN_SUPPORT]
    scored.sort(key=lambda pair: -pair[0])
    return [c for _, c in scored[:2]]
