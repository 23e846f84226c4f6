"""The two shipped styles' answer formats: what `grounded` and `bullet-brief` are taught to
write, and the validators their sidecars declare for `folio eval`."""

from __future__ import annotations

import re

REFUSAL = "The documents don't say."
BULLET_REFUSAL = "- " + REFUSAL
# Format validators declared in each adapter's sidecar and used by `folio eval`.
GROUNDED_FORMAT = r"(?s)(?=.*\[\d+\]).+|The documents don't say\."
BULLET_FORMAT = r"(?:- [^\n]*\[\d+\]\n){0,2}- [^\n]*\[\d+\]|- The documents don't say\."


def check_format(kind: str, answer: str) -> bool:
    """Whether an answer has the format the adapter of `kind` is taught."""
    pattern = GROUNDED_FORMAT if kind == "grounded" else BULLET_FORMAT
    return re.fullmatch(pattern, answer.strip()) is not None
