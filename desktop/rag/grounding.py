"""Citations that can be trusted by construction: every [n] in an answer is checked against
passage n, and what no passage supports is not shown as if it were.

After the model has written its answer, each of its sentences (or bullet lines) is matched
against the passages it was given:
- a sentence whose cited passage holds its content words keeps its citation;
- a sentence citing the wrong passage (small models often do) gets the number of the
  passage that does hold its words, so the number in the text and the source listed under
  it always agree;
- an uncited sentence gets the number of the passage that supports it;
- a sentence that no passage supports is dropped, and so is one that only repeats its
  passage's title (small models answer "Super Bowl 50 [1]."); when nothing supported is
  left, the answer falls back to quoting the passage sentence that best matches the
  question, verbatim.

Every kept sentence comes with its support: the passage sentence that holds its words,
verbatim, with its character span in the passage, so the window can show it under the
answer and highlight it in the sources panel. A decline ("the documents don't say") is
left as it is, unless the passages do answer: small models decline questions their
passages answer (the SQuAD-trained and template-trained adapters alike), so when the quote
chooser is confident, its sentence is quoted instead of the decline. For the same reason an
answer none of whose sentences (or bullets) stands on that sentence gets it first: small
models copy a supported sentence that is not the answer (through this path the shipped
`grounded` held the gold answer for 56.0 % of 200 XQuAD questions, the quote 80.5 %;
December 7, night), and a written answer must not hold the answer less often than the quote. A
sentence that copies only a piece of it (small models cut a long sentence at a comma, often
before the answer) quotes it whole.
The answer keeps the form its style declares (desktop.rag.shape): bullets for a bulleted
style, however the model wrote it, and the style's own decline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from desktop.ingest.text import plain_title
from desktop.json_types import JSONObject
from desktop.library.passage import Citation
from desktop.rag.budget import content_words, sentences
from desktop.rag.shape import PROSE, Shape

# Share of a sentence's content words that a passage must hold to support it; every number
# in the sentence must be there too. Sentences copied from a passage score 1.0; a
# paraphrase that keeps the facts' words about 0.8; a wrong year in three words 0.67.
MIN_SUPPORT = 0.7
DECLINES = (
    "couldn't find",
    "did not say",
    "didn't say",
    "do not say",
    "does not say",
    "don't say",
    "doesn't say",
)
# A bulleted answer is brief: at most this many bullets when Folio adds one and the style
# declares no limit of its own (the shipped bullet style's rule).
MAX_BULLETS = 3
_MARK = re.compile(r"\s*\[(\d{1,2}(?:\s*[,;]\s*\d{1,2})*)\]")
_NUM = re.compile(r"\d{1,2}")
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+")


@dataclass(frozen=True)
class Support:
    """The passage sentence that backs one sentence of an answer."""

    n: int  # the passage's number, as cited
    sentence: str  # verbatim from the passage
    start: int  # character span of `sentence` in the passage's text
    end: int

    def to_json(self) -> JSONObject:
        return {"n": self.n, "sentence": self.sentence, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Grounded:
    """An answer after the check: its text, what it cites, and why each [n] is there.

    `how` is "model" (the model's citations held), "corrected" (some numbers were changed
    or sentences dropped), "quoted" (nothing held: the best passage sentence is quoted) or
    "declined".
    """

    text: str
    cited: list[Citation]
    support: list[Support]
    how: str


def is_decline(text: str) -> bool:
    low = text.lower()
    return any(phrase in low for phrase in DECLINES)


def _words(text: str) -> set[str]:
    return set(content_words(_MARK.sub(" ", text)))


def support_share(words: set[str], passage_words: set[str]) -> float:
    """Share of `words` that a passage holds; 0 when it lacks one of their numbers."""
    if not words:
        return 0.0
    if any(w[0].isdigit() and w not in passage_words for w in words):
        return 0.0
    return len(words & passage_words) / len(words)


def _overlap(words: set[str], other: set[str]) -> float:
    return len(words & other) / len(words) if words else 0.0


def best_sentence(words: set[str], passage: Citation) -> Support:
    """The sentence of `passage` that holds most of `words` (the first on ties)."""
    best: tuple[float, int, str] = (-1.0, 0, passage.text)
    offset = 0
    for s in sentences(passage.text):
        at = passage.text.find(s, offset)
        at = at if at >= 0 else offset
        offset = at + len(s)
        score = _overlap(words, set(content_words(s)))
        if score > best[0]:
            best = (score, at, s)
    _, at, s = best
    return Support(passage.n, s, at, at + len(s))


def heading_words(passage: Citation) -> set[str]:
    """Content words of the passage's heading: its chunk's `heading`, and a title line set
    apart by a blank line at its start (as a file with a heading line is indexed)."""
    words = set(content_words(passage.heading or ""))
    title = plain_title(passage.text)
    if title and len(title.split()) <= 12 and title[-1:] not in ".!?":  # not a short sentence
        words |= set(content_words(title))
    return words


def _pieces(answer: str) -> list[tuple[str, str]]:
    """The answer's sentences as (prefix, text): a bullet's marker is the prefix."""
    out: list[tuple[str, str]] = []
    for line in answer.strip().splitlines():
        if not line.strip():
            continue
        m = _BULLET.match(line)
        prefix = m.group(0) if m else ""
        body = line[len(prefix) :].strip()
        if prefix:
            out.append((prefix.strip() + " ", body))
        else:
            out.extend(("", s) for s in _split_sentences(body))
    return out


def _split_sentences(text: str) -> list[str]:
    """Sentences, splitting after a citation mark too ("... [1]. Next ...")."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])", text.strip())
    return [p for p in (q.strip() for q in parts) if p]


def one_line(sentence: str) -> str:
    """A passage sentence as an answer line: a hard-wrapped source's line breaks (a text
    or Markdown file's) and runs of spaces read as one space. The sentence's span in the
    passage is kept apart, for the highlight."""
    return " ".join(sentence.split())


def with_mark(body: str, n: int, bullet: bool = False) -> str:
    """`body` with its citation marks replaced by one [n] before the final stop (a bullet
    ends with its mark)."""
    bare = _MARK.sub("", body).rstrip()
    end = ""
    if bare and bare[-1] in ".!?":
        end, bare = bare[-1], bare[:-1].rstrip()
    return f"{bare} [{n}]" if bullet else f"{bare} [{n}]{end or '.'}"


def _renumbered(body: str, n: int) -> str:
    """`body` citing [n] alone: its first mark becomes [n] and the others go; a body with
    no mark gets [n] at its end."""
    if not _MARK.search(body):
        return with_mark(body, n)
    first = True

    def swap(_m: re.Match[str]) -> str:
        nonlocal first
        out, first = (f" [{n}]" if first else ""), False
        return out

    return _MARK.sub(swap, body)


def ground(
    answer: str,
    passages: Sequence[Citation],
    question: str,
    shape: Shape = PROSE,
    fallback: Callable[[], Support | None] | None = None,
    answerable: Callable[[], Support | None] | None = None,
) -> Grounded:
    """Check `answer`'s citations against `passages` (numbered 1..n as the model saw them).

    Args:
        shape: the form the active style declares (desktop.rag.shape): a bulleted style
            gets bullets, at most its limit of them, and a decline in its own words, even
            when the model wrote prose; a fallback quote takes the answer's form.
        fallback: chooses the sentence to quote when nothing the model wrote holds (the
            answerer's quote choice); without one, or when it finds none, the sentence
            sharing most of the question's words.
        answerable: the sentence to quote when the model declines although the passages
            answer (the answerer's confident quote choice); None from it, or no callable,
            and the decline stands. An answer none of whose sentences or bullets stands on
            that sentence gets it first (an answer leads with the answer).
    """
    declines = is_decline(answer)
    by_n = {p.n: p for p in passages}
    pieces = _pieces(answer)
    bullets = shape.bullets or any(p for p, _ in pieces)
    if declines and passages and answerable is not None:
        instead = answerable()
        if instead is not None and instead.n in by_n:
            return _quoted(instead, by_n, bullets)
    if declines:
        text = answer.strip() if shape == PROSE else shape.decline
        return Grounded(text, [], [], "declined")
    if not passages or not answer.strip():
        return Grounded(answer.strip(), [], [], "model")
    if shape.bullets:  # the style's form, whatever the model wrote
        pieces = [("- ", body) for _, body in pieces]
    pwords = {p.n: set(content_words(p.text)) for p in passages}
    lines: list[str] = []
    support: list[Support] = []
    changed = False
    for prefix, body in pieces:
        words = _words(body)
        if not words:
            changed = True
            continue
        marked = [int(x) for m in _MARK.finditer(body) for x in _NUM.findall(m.group(1))]
        marked = [n for n in dict.fromkeys(marked) if n in by_n]
        kept = [n for n in marked if support_share(words, pwords[n]) >= MIN_SUPPORT]
        if kept:
            n = kept[0]
        else:
            n = max(by_n, key=lambda k: support_share(words, pwords[k]))  # first on ties
            if support_share(words, pwords[n]) < MIN_SUPPORT:
                changed = True  # no passage holds this sentence's words: leave it out
                continue
        if words <= heading_words(by_n[n]):
            changed = True  # the passage's title echoed ("Super Bowl 50 [1].") answers nothing
            continue
        as_written = marked == [n] and len(_MARK.findall(body)) == 1
        if prefix:  # a bullet ends with its one mark
            line = prefix + with_mark(body, n, bullet=True)
            as_written = line == prefix + body
        else:
            line = body if as_written else _renumbered(body, n)
        changed = changed or not as_written
        if line in lines:  # said twice: once is enough
            changed = True
            continue
        lines.append(line)
        support.append(best_sentence(words, by_n[n]))
    if not lines:
        quote = (fallback() if fallback else None) or best_sentence(
            set(content_words(question)), _best_passage(question, passages)
        )
        return _quoted(quote, by_n, bullets)
    most = shape.max_bullets or MAX_BULLETS
    if answerable is not None:
        confident = answerable()
        changed = _complete(confident, lines, support, bullets) or changed
        changed = _lead_with(confident, lines, support, by_n, most if bullets else 0) or changed
    if shape.bullets and len(lines) > most:
        del lines[most:], support[most:]
        changed = True
    text = "\n".join(lines) if bullets else " ".join(lines)
    cited_ns = list(dict.fromkeys(s.n for s in support))
    return Grounded(text, [by_n[n] for n in cited_ns], support, "corrected" if changed else "model")


def _complete(
    quote: Support | None, lines: list[str], support: list[Support], bullet: bool
) -> bool:
    """Quote `quote` whole where a line copies only part of it: small models cut a long
    sentence at a comma, often before the answer ("... 308 points, ranking sixth in the
    league [1]." for "How many interceptions?"). A line that is a verbatim piece of the
    confident quote's sentence becomes that sentence; a paraphrase stays as written. Returns
    whether a line changed."""
    if quote is None:
        return False
    done = False
    for i, line in enumerate(lines):
        if support[i].n == quote.n and _is_piece(line, quote.sentence):
            lines[i], support[i], done = _quote_line(quote, bullet), quote, True
    if done:  # two pieces of one sentence are now the same line: once is enough
        keep = [i for i, line in enumerate(lines) if line not in lines[:i]]
        lines[:] = [lines[i] for i in keep]
        support[:] = [support[i] for i in keep]
    return done


def _is_piece(line: str, sentence: str) -> bool:
    """Is `line` (a bullet or a sentence of the answer) a verbatim part of `sentence`, and
    not all of it?"""
    piece, whole = _plain(_BULLET.sub("", line, count=1)), _plain(sentence)
    return bool(piece) and piece != whole and piece in whole


def _plain(text: str) -> str:
    """Lower-case words of `text` without citation marks or the final stop."""
    return " ".join(_MARK.sub(" ", text).lower().rstrip(" .!?").split())


def _lead_with(
    quote: Support | None,
    lines: list[str],
    support: list[Support],
    by_n: dict[int, Citation],
    most: int,
) -> bool:
    """Put `quote` first unless one of the answer's lines stands on it (its support overlaps
    the quote's span): as a bullet when `most` (bullets, keeping at most `most`), else as a
    sentence before the model's. Returns whether it did."""
    if quote is None or quote.n not in by_n:
        return False
    if any(s.n == quote.n and s.start < quote.end and quote.start < s.end for s in support):
        return False
    lines.insert(0, _quote_line(quote, bullet=bool(most)))
    support.insert(0, quote)
    if most:
        del lines[most:], support[most:]
    return True


def _quoted(quote: Support, by_n: dict[int, Citation], bullet: bool) -> Grounded:
    """The answer that quotes `quote`, verbatim, with its [n] (as a bullet if `bullet`)."""
    return Grounded(_quote_line(quote, bullet), [by_n[quote.n]], [quote], "quoted")


def _quote_line(quote: Support, bullet: bool) -> str:
    """`quote`'s sentence, word for word on one line, with its [n] (as a bullet if
    `bullet`)."""
    return ("- " if bullet else "") + with_mark(one_line(quote.sentence), quote.n, bullet)


def _best_passage(question: str, passages: Sequence[Citation]) -> Citation:
    """The passage with the sentence sharing most of the question's words (the first, the
    best ranked, on ties)."""
    words = set(content_words(question))

    def score(p: Citation) -> float:
        return max((_overlap(words, set(content_words(s))) for s in sentences(p.text)), default=0)

    return max(passages, key=score)
