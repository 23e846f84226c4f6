"""How an answer is made, shared by settings, the answerer and both clients."""

from __future__ import annotations

from typing import Literal, TypeGuard

# "quote": the passage sentence that answers the question, verbatim, with its [n]
# (desktop/rag/quote.py); "write": the model writes the answer, in the chosen style.
AnswerMode = Literal["quote", "write"]
ANSWER_MODES: tuple[AnswerMode, ...] = ("quote", "write")


def is_answer_mode(value: object) -> TypeGuard[AnswerMode]:
    """True if `value` names a way of answering."""
    return value in ANSWER_MODES
