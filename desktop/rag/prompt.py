"""The grounded prompt: numbered passages in, `[n]` citations out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from desktop.library.passage import Citation
from desktop.library.search import Hit

SYSTEM_PROMPT = (
    "You are Folio, an assistant that answers questions about the user's own documents. "
    "Answer using only the numbered passages you are given. After each sentence that uses a "
    "passage, cite it with its number in square brackets, like [1] or [2]. If the passages "
    "do not contain the answer, say that the documents do not say. Be concise."
)

NOT_FOUND = (
    "I couldn't find anything about that in your library, so I won't guess. "
    "Try other words, or add the documents that cover it."
)

_CITE = re.compile(r"\[(\d{1,2})(?:\s*[,;]\s*(\d{1,2}))*\]")
_NUM = re.compile(r"\d{1,2}")


def citations_for(hits: Sequence[Hit]) -> list[Citation]:
    """Number the passages 1..n in the order the model sees them."""
    return [Citation.numbered(i, h.chunk) for i, h in enumerate(hits, start=1)]


def source_label(c: Citation) -> str:
    name = Path(c.path).name
    return f"{name}, page {c.page}" if c.page is not None else name


def user_message(question: str, passages: Sequence[Citation]) -> str:
    """Passages first, the question and the citation rule last (small models follow the last
    instruction best). File names stay out of the prompt: models copy them into answers."""
    blocks = [f"[{c.n}] {c.text.strip()}" for c in passages]
    return (
        "\n\n".join(blocks)
        + f"\n\nQuestion: {question.strip()}\n"
        + "Answer in one or two sentences using the passages above. After each fact, write "
        "the number of its passage in brackets, like [1]."
    )


def messages_for(
    question: str, passages: Sequence[Citation], history: Sequence[dict[str, str]] = ()
) -> list[dict[str, str]]:
    """The chat Folio sends: the system prompt, earlier turns, then the numbered passages
    with the question."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        *history,
        {"role": "user", "content": user_message(question, passages)},
    ]


def cited_numbers(answer: str, available: int) -> list[int]:
    """The passage numbers an answer cites, in first-use order, ignoring out-of-range ones."""
    seen: dict[int, None] = {}
    for match in _CITE.finditer(answer):
        for num in _NUM.findall(match.group(0)):
            n = int(num)
            if 1 <= n <= available:
                seen.setdefault(n, None)
    return list(seen)
