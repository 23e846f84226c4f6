"""The context budget: which passages and which sentences the model reads (no models)."""

from __future__ import annotations

from desktop.library.passage import ChunkRecord, Citation
from desktop.library.search import Hit
from desktop.rag.budget import (
    Budget,
    decisive,
    prompt_passages,
    select_passages,
    sentences,
    trim,
)
from desktop.rag.prompt import citations_for

PASSAGE = (
    "Quarterly operations report for the northern site. The site employs forty engineers. "
    "The Zorblax turbine produced 42 megawatts at full load during the spring trials. "
    "Bearings are replaced every eighteen months. The cooling loop is flushed each winter."
)


def _hit(cid: int, sim: float | None, vr: int | None, kr: int | None, text: str = PASSAGE) -> Hit:
    return Hit(
        ChunkRecord(cid, 1, f"/d/{cid}.txt", None, None, text, 0, len(text)), 0.1, vr, kr, sim
    )


def test_sentences_split_on_ends_followed_by_capitals() -> None:
    assert sentences("One. Two three! 4 is a digit. e.g. lower stays") == [
        "One.",
        "Two three!",
        "4 is a digit. e.g. lower stays",
    ]


def test_trim_keeps_the_matching_sentence_and_its_lead_in() -> None:
    out = trim(
        "How many megawatts did the Zorblax turbine produce?",
        PASSAGE,
        30,
        {"megawatt": 2.0, "zorblax": 3.0, "turbine": 1.0, "produce": 1.0},
    )
    assert "42 megawatts" in out
    assert "The site employs forty engineers." in out  # the sentence before the match
    assert "cooling loop" not in out and out.endswith("…")
    assert len(out.split()) <= 30 + 2
    assert trim("anything", "Short passage.", 30, {}) == "Short passage."


def test_decisive_best_passage_goes_alone() -> None:
    first_in_both = [_hit(1, 0.5, 1, 1), _hit(2, 0.48, 2, 3)]
    assert decisive(first_in_both, 0.12) and select_passages(first_in_both) == first_in_both[:1]
    far_ahead = [_hit(1, 0.7, 1, 4), _hit(2, 0.5, 2, 1)]
    assert decisive(far_ahead, 0.12)
    close = [_hit(1, 0.55, 1, 3), _hit(2, 0.5, 3, 1), _hit(3, 0.4, 2, 2), _hit(4, 0.3, 4, 4)]
    assert not decisive(close, 0.12)
    assert [h.chunk.chunk_id for h in select_passages(close, Budget(max_passages=3))] == [1, 2, 3]


def test_prompt_passages_stay_numbered_and_within_the_total() -> None:
    hits = [_hit(i, 0.5 - i / 100, i, i) for i in range(1, 4)]
    full = citations_for(hits)
    budget = Budget(passage_words=20, total_words=45)
    trimmed = prompt_passages("How often are the bearings replaced?", full, budget)
    assert [c.n for c in trimmed] == [1, 2, 3][: len(trimmed)]
    assert sum(len(c.text.split()) for c in trimmed) <= 45 + 2 * len(trimmed)
    assert all("eighteen months" in c.text for c in trimmed)
    assert all(
        isinstance(c, Citation) and c.chunk_id == f.chunk_id
        for c, f in zip(trimmed, full[: len(trimmed)], strict=True)
    )
    assert full[0].text == PASSAGE  # the citations keep the whole passage
