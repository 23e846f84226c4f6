"""Text helpers for the views: citation links, highlighted terms, durations. No widgets here."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from desktop.json_types import JSON, as_float

CITE_SCHEME = "cite"
_CITE_GROUP = re.compile(r"\[(\d{1,2}(?:\s*[,;]\s*\d{1,2})*)\](?!\()")
_CODE_SPAN = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    """a an and are as at be but by can did do does for from had has have how i if in into is
    it its of on or our so than that the their them then there these they this to was we were
    what when where which who whom why will with would you your about much many""".split()
)


def cite_href(message_key: int, n: int) -> str:
    return f"{CITE_SCHEME}:{message_key}:{n}"


def parse_cite_href(href: str) -> tuple[int, int] | None:
    """(message key, citation number) from a link made by `cite_href`, else None."""
    parts = href.split(":")
    if len(parts) != 3 or parts[0] != CITE_SCHEME:
        return None
    try:
        return int(parts[1]), int(parts[2])
    except ValueError:
        return None


def linkify_citations(markdown: str, message_key: int, available: int | None = None) -> str:
    """Turn `[n]` and `[n, m]` into Markdown links to `cite:key:n` (code is left alone).

    Numbers above `available` (when given) stay plain text: the model invented them.
    """

    def link_group(match: re.Match[str]) -> str:
        numbers = [int(x) for x in re.findall(r"\d+", match.group(1))]
        if available is not None and any(not 1 <= n <= available for n in numbers):
            return match.group(0)
        return "".join(f"[\\[{n}\\]]({cite_href(message_key, n)})" for n in numbers)

    pieces = _CODE_SPAN.split(markdown)
    for i in range(0, len(pieces), 2):  # even pieces are outside code
        pieces[i] = _CITE_GROUP.sub(link_group, pieces[i])
    return "".join(pieces)


def query_terms(question: str) -> list[str]:
    """Content words of a question, lower-cased, in order, without repeats."""
    words = [w.lower() for w in _WORD.findall(question)]
    return list(dict.fromkeys(w for w in words if w not in _STOPWORDS and len(w) > 1))


def _stem(word: str) -> str:
    """A light stemmer: turbine/turbines and produce/produced/producing share a stem."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def highlight_html(
    text: str, terms: Iterable[str], color: str = "#ffe58a", text_color: str = "#1f2328"
) -> str:
    """HTML of `text` with every word sharing a stem with one of `terms` highlighted."""
    stems = {_stem(t.lower()) for t in terms if t}
    out: list[str] = []
    last = 0
    for match in _WORD.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        word = match.group(0)
        if stems and _stem(word.lower()) in stems:
            out.append(
                f'<span style="background-color:{color}; color:{text_color};">'
                f"{html.escape(word)}</span>"
            )
        else:
            out.append(html.escape(word))
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out).replace("\n", "<br>")


def sentence_spans(text: str, wanted: Iterable[str]) -> list[tuple[int, int]]:
    """Where each of `wanted` occurs in `text`, whatever the whitespace between its words
    (the panel reflows passages)."""
    spans: list[tuple[int, int]] = []
    for sentence in wanted:
        words = sentence.split()
        if not words:
            continue
        m = re.search(r"\s+".join(re.escape(w) for w in words), text)
        if m:
            spans.append((m.start(), m.end()))
    return sorted(spans)


def highlight_spans_html(
    text: str, spans: Sequence[tuple[int, int]], color: str, text_color: str
) -> str:
    """HTML of `text` with the character spans (sorted, not overlapping) highlighted."""
    out: list[str] = []
    last = 0
    for start, end in spans:
        if start < last:
            continue
        out.append(html.escape(text[last:start]))
        out.append(
            f'<span style="background-color:{color}; color:{text_color};">'
            f"{html.escape(text[start:end])}</span>"
        )
        last = end
    out.append(html.escape(text[last:]))
    return "".join(out).replace("\n", "<br>")


def format_ms(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.2f} s"


def _ms(value: JSON) -> float | None:
    """A stored duration in ms (None when absent)."""
    return float(value) if isinstance(value, int | float) else None


def answer_footer(meta: Mapping[str, JSON]) -> str:
    """The line under an answer (its stored meta): retrieval time, first token, speed, model
    and adapter, and how much was embedded if the library was still being indexed."""
    stored = meta.get("timings_ms")
    timings: Mapping[str, JSON] = stored if isinstance(stored, dict) else {}
    parts = [f"Retrieval {format_ms(_ms(timings.get('retrieve')))}"]
    if meta.get("found", True):
        parts.append(f"first token {format_ms(_ms(timings.get('first_token')))}")
        rate = as_float(meta.get("tokens_per_s"))
        if meta.get("grounding") == "quoted" and not meta.get("tokens"):
            parts.append("quoted from your documents")  # no model wrote it
        else:
            parts.append(f"{rate:.1f} tokens/s" if rate else "— tokens/s")
    if meta.get("model"):
        parts.append(str(meta["model"]))
    listed = meta.get("adapters")
    adapters = [a for a in listed if isinstance(a, dict)] if isinstance(listed, list) else []
    if adapters:
        parts.append(
            "style: " + ", ".join(f"{a['name']} ×{as_float(a['scale']):.2f}" for a in adapters)
        )
    if meta.get("stopped"):
        parts.append("stopped")
    if meta.get("indexing"):
        parts.append(str(meta["indexing"]))
    return " · ".join(parts)


def citation_number(citation: Mapping[str, JSON]) -> int:
    """The number `n` of a citation as stored (`[n]` in its answer)."""
    n = citation["n"]
    if isinstance(n, int | float | str):
        return int(n)
    raise TypeError(f"a citation number must be a number, not {type(n).__name__}")


def source_title(citation: Mapping[str, JSON]) -> str:
    """'operations-report.pdf · page 2'."""
    name = Path(str(citation.get("path", ""))).name
    page = citation.get("page")
    return f"{name} · page {page}" if page else name


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
