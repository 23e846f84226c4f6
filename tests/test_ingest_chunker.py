"""Chunking with the real MiniLM tokenizer that setup installs into models/."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from desktop.errors import ModelError
from desktop.ingest.chunker import chunk, load_tokenizer
from desktop.ingest.types import ChunkDraft, Section, full_text

MODEL_DIR = Path(__file__).parents[1] / "models" / "all-minilm-l6-v2-int8"

NATO = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
    "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
).split()


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    if not (MODEL_DIR / "tokenizer.json").is_file():
        pytest.fail(f"{MODEL_DIR / 'tokenizer.json'} is missing: run setup to install the models")
    return load_tokenizer(MODEL_DIR)


def _count(tokenizer: Tokenizer, text: str) -> int:
    return len(tokenizer.encode(text, add_special_tokens=False).ids)


def _sentence(n: int) -> str:
    """A distinct sentence of 8-14 words, the same for the same n."""
    words = [NATO[(n * 7 + k * 3) % len(NATO)] for k in range(8 + n % 7)]
    return f"Sentence {n} says {' '.join(words)}."


def _paragraph(first: int, count: int) -> str:
    return " ".join(_sentence(n) for n in range(first, first + count))


def _document() -> list[Section]:
    return [
        Section("\n\n".join(_paragraph(i * 10, 1 + i % 4) for i in range(12)), 1, None),
        Section(_paragraph(200, 40), 2, None),
        Section("A short closing page.", 3, None),
        Section("\n\n".join(_paragraph(400 + i * 10, 2) for i in range(6)), None, "Methods"),
        Section(_paragraph(600, 3), None, "Results"),
    ]


def _assert_valid(
    chunks: list[ChunkDraft], sections: list[Section], tok: Tokenizer, limit: int
) -> None:
    text = full_text(sections)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert text[c.char_start : c.char_end] == c.text
        assert c.text.strip() == c.text != ""
        assert _count(tok, c.text) <= limit, c


def _section_spans(sections: list[Section]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for s in sections:
        spans.append((start, start + len(s.text)))
        start += len(s.text) + 2
    return spans


def test_chunks_respect_token_limit_and_offsets(tokenizer: Tokenizer) -> None:
    sections = _document()

    chunks = chunk(sections, tokenizer, max_tokens=64, overlap=16)

    _assert_valid(chunks, sections, tokenizer, 64)
    assert len(chunks) > 10
    # Chunks are packed: most come near the limit rather than one sentence each.
    assert sum(_count(tokenizer, c.text) for c in chunks) / len(chunks) > 40


def test_every_chunk_lies_in_one_section_with_its_page_and_heading(tokenizer: Tokenizer) -> None:
    sections = _document()
    spans = _section_spans(sections)

    chunks = chunk(sections, tokenizer, max_tokens=64, overlap=16)

    seen = set()
    for c in chunks:
        owners = [i for i, (a, b) in enumerate(spans) if a <= c.char_start and c.char_end <= b]
        assert len(owners) == 1, c
        owner = sections[owners[0]]
        assert (c.page, c.heading) == (owner.page, owner.heading)
        seen.add(owners[0])
    assert seen == set(range(len(sections)))


def test_next_chunk_in_a_section_overlaps_at_a_sentence_or_word(tokenizer: Tokenizer) -> None:
    sections = [Section(_paragraph(0, 60), 1, None)]
    text = full_text(sections)

    chunks = chunk(sections, tokenizer, max_tokens=80, overlap=20)

    assert len(chunks) >= 5
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.char_start < after.char_start < before.char_end
        shared = text[after.char_start : before.char_end]
        assert 10 <= _count(tokenizer, shared) <= 30
        assert text[after.char_start - 1].isspace()  # starts on a word, not inside one
    # Sentence starts are preferred where one is near the target.
    assert sum(c.text.startswith("Sentence") for c in chunks[1:]) >= len(chunks[1:]) // 2


def test_no_overlap_across_sections(tokenizer: Tokenizer) -> None:
    sections = [Section(_paragraph(0, 20), 1, None), Section(_paragraph(100, 20), 2, None)]
    second_start = len(sections[0].text) + 2

    chunks = chunk(sections, tokenizer, max_tokens=60, overlap=20)

    first_of_page_two = next(c for c in chunks if c.page == 2)
    assert first_of_page_two.char_start == second_start
    assert all(c.char_end <= second_start - 2 for c in chunks if c.page == 1)


def test_whole_paragraphs_are_packed_together(tokenizer: Tokenizer) -> None:
    paragraphs = [_paragraph(i * 10, 1 + i % 3) for i in range(30)]
    assert max(_count(tokenizer, p) for p in paragraphs) < 70
    sections = [Section("\n\n".join(paragraphs), None, "H")]

    chunks = chunk(sections, tokenizer, max_tokens=100, overlap=0)

    _assert_valid(chunks, sections, tokenizer, 100)
    pieces = [p for c in chunks for p in c.text.split("\n\n")]
    assert pieces == paragraphs  # none split, none repeated, in order
    assert len(chunks) < 20  # several paragraphs share a chunk


def test_long_paragraph_is_split_between_sentences(tokenizer: Tokenizer) -> None:
    sections = [Section(_paragraph(0, 30), None, None)]

    chunks = chunk(sections, tokenizer, max_tokens=50, overlap=0)

    _assert_valid(chunks, sections, tokenizer, 50)
    assert len(chunks) > 3
    assert all(re.fullmatch(r"Sentence \d+ says .*\.", c.text, re.DOTALL) for c in chunks)
    assert " ".join(c.text for c in chunks) == sections[0].text


def test_sentence_longer_than_the_limit_is_cut_between_words(tokenizer: Tokenizer) -> None:
    words = [f"{NATO[i % len(NATO)]}{i}" for i in range(400)]
    sections = [Section(" ".join(words), None, None)]

    chunks = chunk(sections, tokenizer, max_tokens=40, overlap=8)

    _assert_valid(chunks, sections, tokenizer, 40)
    for c in chunks:
        assert set(c.text.split()) <= set(words)  # no word cut in two
    assert {w for c in chunks for w in c.text.split()} == set(words)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.char_start < after.char_start < before.char_end  # overlap kept


def test_text_without_spaces_still_fits(tokenizer: Tokenizer) -> None:
    sections = [
        Section("汉字文本没有空格" * 60, None, None),
        Section("x.y/" * 300, None, None),
        Section("unbelievable" * 8 + "-" + "unbelievable-" * 100, None, None),
    ]

    chunks = chunk(sections, tokenizer, max_tokens=32, overlap=8)

    _assert_valid(chunks, sections, tokenizer, 32)
    assert "".join(c.text for c in chunks if c.char_end <= len(sections[0].text)).startswith(
        "汉字文本没有空格"
    )


def test_pieces_cut_inside_a_word_are_recounted_on_their_own(tokenizer: Tokenizer) -> None:
    # Words of many word-pieces: a window of 8 tokens must cut inside them, and a piece
    # starting mid-word tokenizes to more tokens alone than it did in context.
    text = "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism " * 3
    sections = [Section(text.strip(), None, None)]

    chunks = chunk(sections, tokenizer, max_tokens=8, overlap=0)

    _assert_valid(chunks, sections, tokenizer, 8)
    assert any(sections[0].text[c.char_start - 1].isalpha() for c in chunks[1:])


def test_blank_sections_give_no_chunks(tokenizer: Tokenizer) -> None:
    assert chunk([Section("  \n\n \t ", 1, None), Section("\n", 2, None)], tokenizer) == []
    assert chunk([], tokenizer) == []


def test_chunking_is_deterministic(tokenizer: Tokenizer) -> None:
    sections = _document()

    assert chunk(sections, tokenizer, 64, 16) == chunk(list(sections), tokenizer, 64, 16)


def test_default_sizes_fit_minilm(tokenizer: Tokenizer) -> None:
    sections = _document()

    chunks = chunk(sections, tokenizer)

    _assert_valid(chunks, sections, tokenizer, 200)
    assert max(_count(tokenizer, c.text) for c in chunks) > 150


def test_load_tokenizer_turns_off_padding_and_truncation() -> None:
    raw = json.loads((MODEL_DIR / "tokenizer.json").read_text(encoding="utf-8"))
    assert raw["truncation"] is not None  # the installed file does truncate...

    tok = load_tokenizer(MODEL_DIR)

    assert tok.truncation is None and tok.padding is None  # ...but not once loaded
    assert _count(tok, "word " * 500) == 500


def test_load_tokenizer_without_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="tokenizer.json is missing"):
        load_tokenizer(tmp_path)


def test_load_tokenizer_with_corrupt_file_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ModelError, match="not a valid tokenizer"):
        load_tokenizer(tmp_path)


def test_a_truncating_tokenizer_is_refused() -> None:
    tok = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    with pytest.raises(ValueError, match="truncates"):
        chunk([Section("text", None, None)], tok)


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_nonsense_sizes_are_refused(tokenizer: Tokenizer, max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk([Section("text", None, None)], tokenizer, max_tokens, overlap)
