"""The shape a style promises its answers have, read from the format it declares.

A style adapter's sidecar may declare `format_regex`, the form of every answer written
under it (`bullet-brief`: one to three bullets, each ending with its [n], or "- The
documents don't say."). A small model keeps that form most of the time, not always: it
sometimes writes one plain sentence. Folio's own answers (the relevance gate's decline, a
quote that stands in for a decline) never went through the model at all. So the answer
path shapes every answer the way the style declares: its sentences become bullets when
the style is bulleted, no more of them than the style allows, and a decline is worded the
way the style declines.

The shape is found by trying the declared pattern on examples of each form, so any style
that declares a format gets its shape without naming it anywhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from desktop.rag.prompt import NOT_FOUND

# Declines a style may declare, in the order tried: Folio's own first, so a style whose
# format allows it keeps the fuller message.
_DECLINES = (NOT_FOUND, "The documents don't say.", "- The documents don't say.")
_MOST_BULLETS_TRIED = 9


@dataclass(frozen=True)
class Shape:
    """What a style's answers look like: bullets or prose, at most how many bullets, and
    its decline's wording."""

    bullets: bool = False
    max_bullets: int = 0  # 0: no limit
    decline: str = NOT_FOUND

    @classmethod
    def of(cls, format_regex: str) -> Shape:
        """The shape `format_regex` declares ("" or an invalid pattern: plain prose)."""
        if not format_regex:
            return PROSE
        try:
            pattern = re.compile(format_regex)
        except re.error:
            return PROSE

        def fits(text: str) -> bool:
            return pattern.fullmatch(text) is not None

        decline = next((d for d in _DECLINES if fits(d)), NOT_FOUND)
        bulleted = [k for k in range(1, _MOST_BULLETS_TRIED + 1) if fits(_bullets(k))]
        if not bulleted or fits("A fact from the passage [1]."):
            return cls(decline=decline)
        most = max(bulleted)
        return cls(True, 0 if most == _MOST_BULLETS_TRIED else most, decline)


PROSE = Shape()


def _bullets(k: int) -> str:
    return "\n".join(f"- Fact {i} from the passage [{i}]" for i in range(1, k + 1))
