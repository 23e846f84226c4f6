"""Cut sections into chunks that fit the embedder, measured with the embedder's own tokenizer.

A chunk never spans two sections, so it has exactly one page and one heading. Inside a
section, whole paragraphs are packed together up to `max_tokens`; a paragraph too long for
one chunk is cut between sentences, then between lines, then between tokens. Each chunk
after the first in a section repeats about `overlap` tokens from the end of the one before,
starting at a sentence, line or word boundary, so a fact cut in two is whole in one chunk.

`max_tokens` counts content tokens only: the [CLS]/[SEP] the embedder adds come on top.

Memory stays bounded whatever the input: a section longer than PIECE_CHARS (a log or a
minified JSON file on one line) is cut into pieces at paragraph, line or space boundaries
first, and pieces are tokenized a bounded batch at a time, so no tokenizer call ever sees
more than a few hundred kilobytes.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from pathlib import Path

from tokenizers import Tokenizer

from desktop.errors import ModelError
from desktop.ingest.types import SECTION_SEPARATOR, ChunkDraft, Section

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# Western sentence ends need a space after them; CJK full stops do not.
_SENTENCE_END = re.compile(
    r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]+[\u300d\u300f\uff09]*\s*"
)
_LINE_BREAK = re.compile(r"\n")
_CJK_ENDERS = frozenset("\u3002\uff01\uff1f")
_ENDERS = frozenset(".!?\u2026") | _CJK_ENDERS
_CLOSERS = frozenset("\"'\u201d\u2019)]")

# How good a place is to start a chunk: lower is better.
_SENTENCE, _LINE, _WORD, _PIECE, _PUNCT = 0, 1, 2, 3, 4
_CJK_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2CEAF),
    (0x2F800, 0x2FA1F),
)

Span = tuple[int, int]
# A chunk as (section index, span in the section's text, token count inside the section).
_Located = tuple[int, Span, int]
# Chunks this close to the limit are re-counted on their own, whatever their boundaries.
_MARGIN = 4
#: Longest run of a section tokenized at once; chunks never cross a piece boundary.
PIECE_CHARS = 32_768
# Characters of pieces tokenized in one batch.
_BATCH_CHARS = 1 << 20
_PIECE_BREAKS = (re.compile(r"\n[ \t]*\n"), re.compile(r"\n"), re.compile(r"\s"))


def load_tokenizer(model_dir: Path) -> Tokenizer:
    """Load `tokenizer.json` from an embedding model's folder, set up for counting tokens.

    Padding and truncation are switched off: a count must be the text's true length.

    Raises:
        ModelError: the file is missing or is not a tokenizer.
    """
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise ModelError(
            f"{path}: tokenizer.json is missing, so the embedding model in {model_dir} is "
            "incomplete; install the model again"
        )
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as e:  # the Rust side raises a bare Exception for any bad file
        raise ModelError(f"{path}: not a valid tokenizer file ({e})") from None
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def chunk(
    sections: Sequence[Section],
    tokenizer: Tokenizer,
    max_tokens: int = 200,
    overlap: int = 40,
) -> list[ChunkDraft]:
    """Cut a document's sections into chunks of at most `max_tokens` tokens each.

    Offsets are into `full_text(sections)`, so `full_text(sections)[c.char_start:c.char_end]`
    is always `c.text`.

    Args:
        sections: the document, as `extract` returns it.
        tokenizer: the embedder's tokenizer, without padding or truncation (`load_tokenizer`).
        max_tokens: the most tokens in one chunk, special tokens not counted.
        overlap: about how many tokens a chunk repeats from the previous one in its section.

    Raises:
        ValueError: the sizes make no sense, or the tokenizer pads or truncates.
    """
    if max_tokens < 1 or not 0 <= overlap < max_tokens:
        raise ValueError(
            f"need max_tokens >= 1 and 0 <= overlap < max_tokens, got {max_tokens}, {overlap}"
        )
    if tokenizer.truncation is not None or tokenizer.padding is not None:
        raise ValueError(
            "the tokenizer pads or truncates, so its counts are wrong; use "
            "load_tokenizer() or call no_padding() and no_truncation()"
        )
    texts = [s.text for s in sections]
    located: list[_Located] = []
    for batch in _piece_batches(texts):
        encodings = tokenizer.encode_batch(
            [texts[i][a:b] for i, (a, b) in batch], add_special_tokens=False
        )
        for (index, (a, b)), encoding in zip(batch, encodings, strict=True):
            starts = [a + start for start, _ in encoding.offsets]
            packer = _SectionPacker(texts[index], starts, max_tokens, overlap, a, b)
            located.extend((index, span, packer.count(*span)) for span in packer.spans())
    fitted = _enforce_limit(located, texts, tokenizer, max_tokens)

    bases, base = [], 0
    for text in texts:
        bases.append(base)
        base += len(text) + len(SECTION_SEPARATOR)
    return [
        ChunkDraft(
            ordinal=ordinal,
            text=texts[index][a:b],
            page=sections[index].page,
            heading=sections[index].heading,
            char_start=bases[index] + a,
            char_end=bases[index] + b,
            location=sections[index].location,
            tokens=count,
        )
        for ordinal, (index, (a, b), count) in enumerate(fitted)
    ]


def _pieces(text: str) -> Iterator[Span]:
    """Cut a text into runs of at most PIECE_CHARS, at the best boundary in each run's second
    half: a blank line, else a line break, else a space, else anywhere."""
    start, end = 0, len(text)
    while end - start > PIECE_CHARS:
        limit = start + PIECE_CHARS
        cut = limit
        for pattern in _PIECE_BREAKS:
            ends = [m.end() for m in pattern.finditer(text, start + PIECE_CHARS // 2, limit)]
            if ends:
                cut = ends[-1]
                break
        yield start, cut
        start = cut
    yield start, end


def _piece_batches(texts: Sequence[str]) -> Iterator[list[tuple[int, Span]]]:
    """Group every section's pieces into batches of about _BATCH_CHARS to tokenize together."""
    batch: list[tuple[int, Span]] = []
    size = 0
    for index, text in enumerate(texts):
        for span in _pieces(text):
            batch.append((index, span))
            size += span[1] - span[0]
            if size >= _BATCH_CHARS:
                yield batch
                batch, size = [], 0
    if batch:
        yield batch


class _SectionPacker:
    """Chunk spans for one piece of a section's text, given where each of its tokens starts."""

    def __init__(
        self,
        text: str,
        starts: list[int],
        max_tokens: int,
        overlap: int,
        lo: int = 0,
        hi: int | None = None,
    ) -> None:
        self.text = text
        self.starts = starts
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.lo = lo
        self.hi = len(text) if hi is None else hi

    def spans(self) -> Iterator[Span]:
        """Pack units into chunks greedily, each later chunk opening with an overlap."""
        current: Span | None = None
        for unit_start, unit_end in self._units():
            if current is None:
                current = (unit_start, unit_end)
            elif self.count(current[0], unit_end) <= self.max_tokens:
                current = (current[0], unit_end)
            else:
                yield current
                current = (self._overlap_start(current, unit_start, unit_end), unit_end)
        if current is not None:
            yield current

    def count(self, start: int, end: int) -> int:
        """Return how many tokens start inside text[start:end]."""
        return bisect_left(self.starts, end) - bisect_left(self.starts, start)

    def _units(self) -> Iterator[Span]:
        """Yield the pieces to pack: paragraphs, or smaller pieces of paragraphs too long."""
        for paragraph in _split(self.text, _PARAGRAPH_BREAK, self.lo, self.hi):
            if self.count(*paragraph) <= self.max_tokens:
                yield paragraph
                continue
            for sentence in _split(self.text, _SENTENCE_END, *paragraph):
                if self.count(*sentence) <= self.max_tokens:
                    yield sentence
                    continue
                for line in _split(self.text, _LINE_BREAK, *sentence):
                    if self.count(*line) <= self.max_tokens:
                        yield line
                    else:
                        yield from self._token_windows(*line)

    def _token_windows(self, start: int, end: int) -> Iterator[Span]:
        """Cut a span with no usable boundary into runs of tokens, leaving room for overlap."""
        window = self.max_tokens - self.overlap
        first, stop = bisect_left(self.starts, start), bisect_left(self.starts, end)
        while stop - first > window:
            cut = first + window
            # Rather cut where a word starts, if one is in the second half of the window.
            best: tuple[int, int] | None = None
            for j in range(cut, first + window // 2, -1):
                kind = self._boundary(self.starts[j])
                if kind is not None and (best is None or kind < best[0]):
                    best = (kind, j)
            if best is not None:
                cut = best[1]
            yield _strip(self.text, self.starts[first], self.starts[cut])
            first = cut
        yield _strip(self.text, self.starts[first], end)

    def _overlap_start(self, previous: Span, unit_start: int, unit_end: int) -> int:
        """Return where the chunk ending at unit_end starts: ~overlap tokens into `previous`."""
        if self.overlap == 0:
            return unit_start
        end_token = bisect_left(self.starts, previous[1])
        # The new chunk must start after the previous one does and still fit max_tokens.
        lowest = max(
            bisect_left(self.starts, previous[0]) + 1,
            bisect_left(self.starts, unit_end) - self.max_tokens,
        )
        target = end_token - self.overlap
        slack = max(1, self.overlap // 2)
        best: tuple[int, int, int] | None = None
        for j in range(max(lowest, target - slack), min(end_token, target + slack + 1)):
            kind = self._boundary(self.starts[j])
            if kind is not None:
                candidate = (kind, abs(j - target), j)
                best = candidate if best is None or candidate < best else best
        if best is None:
            return unit_start
        return self.starts[best[2]]

    def _boundary(self, pos: int) -> int | None:
        """Say what kind of boundary text[pos] starts, or None if it is inside a word."""
        text = self.text
        if pos == 0:
            return _SENTENCE
        if not text[pos - 1].isspace():
            # The tokenizer splits at punctuation and around CJK characters, so a piece that
            # starts there tokenizes the same on its own; inside a word it may not.
            before, here = text[pos - 1], text[pos]
            if before in _CJK_ENDERS:
                return _SENTENCE
            if not here.isalnum():
                return _PUNCT  # a chunk opening on "," or ")" reads badly: last resort
            if not before.isalnum() or _is_cjk(before) or _is_cjk(here):
                return _PIECE
            return None
        k = pos - 1
        newline = False
        while k >= 0 and text[k].isspace():
            newline = newline or text[k] == "\n"
            k -= 1
        if k < 0:
            return _SENTENCE
        if text[k] in _ENDERS or (text[k] in _CLOSERS and k > 0 and text[k - 1] in _ENDERS):
            return _SENTENCE
        return _LINE if newline else _WORD


def _is_cjk(char: str) -> bool:
    """Say whether a character is a CJK ideograph, which BERT tokenizers split on its own."""
    code = ord(char)
    if code < _CJK_RANGES[0][0]:
        return False
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _split(text: str, separator: re.Pattern[str], start: int, end: int) -> Iterator[Span]:
    """Yield the non-blank pieces of text[start:end], each ending where a separator match ends.

    A piece so keeps the punctuation its separator matched; whitespace is trimmed off.
    """
    for match in separator.finditer(text, start, end):
        piece = _strip(text, start, match.end())
        if piece[0] < piece[1]:
            yield piece
        start = match.end()
    piece = _strip(text, start, end)
    if piece[0] < piece[1]:
        yield piece


def _strip(text: str, start: int, end: int) -> Span:
    """Narrow text[start:end] to exclude whitespace at both ends."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _enforce_limit(
    located: list[_Located], texts: list[str], tokenizer: Tokenizer, max_tokens: int
) -> list[_Located]:
    """Re-count a chunk on its own where that could differ, and cut any past max_tokens.

    Counted inside its section, a chunk between whitespace has the count it has on its own
    with BERT's tokenizer. One cut mid-word, or one near the limit (other tokenizers may
    count a token more at the start), is re-encoded on its own.
    """
    risky = [
        k
        for k, (index, (a, b), count) in enumerate(located)
        if count > max_tokens - _MARGIN or not _between_spaces(texts[index], a, b)
    ]
    encodings = tokenizer.encode_batch(
        [texts[located[k][0]][slice(*located[k][1])] for k in risky], add_special_tokens=False
    )
    counts = {k: len(e.ids) for k, e in zip(risky, encodings, strict=True)}
    result: list[_Located] = []
    for k, (index, span, count) in enumerate(located):
        if counts.get(k, count) > max_tokens:
            result.extend(
                (index, p, n) for p, n in _cut_to_fit(texts[index], span, tokenizer, max_tokens)
            )
        else:
            result.append((index, span, counts.get(k, count)))
    return result


def _between_spaces(text: str, start: int, end: int) -> bool:
    """Say whether text[start:end] starts and ends at whitespace or the ends of the text."""
    return (start == 0 or text[start - 1].isspace()) and (end == len(text) or text[end].isspace())


def _cut_to_fit(
    text: str, span: Span, tokenizer: Tokenizer, max_tokens: int
) -> list[tuple[Span, int]]:
    """Cut a span into pieces that each tokenize, on their own, to at most max_tokens;
    each piece comes with its token count."""
    done: list[tuple[Span, int]] = []
    todo = [span]
    while todo:
        start, end = todo.pop()
        encoding = tokenizer.encode(text[start:end], add_special_tokens=False)
        if len(encoding.ids) <= max_tokens:
            done.append(((start, end), len(encoding.ids)))
            continue
        offsets = encoding.offsets
        cut = start + offsets[max_tokens][0]
        for j in range(max_tokens, max_tokens // 2, -1):
            pos = start + offsets[j][0]
            if pos > start and text[pos - 1].isspace():
                cut = pos
                break
        if cut <= start:
            cut = start + 1
        left, right = _strip(text, start, cut), _strip(text, cut, end)
        todo.extend(piece for piece in (right, left) if piece[0] < piece[1])
    return done
