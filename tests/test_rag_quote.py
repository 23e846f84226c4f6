"""The quote answer's choice of sentence (desktop/rag/quote.py), on the hashing fake embedder;
the real embedder's choices are tested in tests/test_answers_real.py."""

from __future__ import annotations

from dataclasses import replace

from desktop.library.passage import ChunkRecord, Citation
from desktop.rag.quote import WEIGHTS, Weights, asks_for, choose, keyword_evidence
from tests.fakes import HashingEmbedder

LIGHTHOUSE = (
    "The Skerry Point lighthouse stands on the rocks at the mouth of the firth. "
    "The Skerry Point lighthouse was built in 1871 by the Northern Lighthouse Board. "
    "Its light could be seen for eighteen miles."
)
FERRY = "A ferry to the island has sailed from the pier every morning since 1962."


def passage(n: int, text: str, path: str) -> Citation:
    record = ChunkRecord(n, n, path, None, None, text, 0, len(text))
    return Citation.numbered(n, record)


def test_what_a_question_asks_for() -> None:
    when = asks_for("When was the lighthouse built?")
    assert when is not None and when.search("built in 1871") and not when.search("on the rocks")
    many = asks_for("How many miles could its light be seen?")
    assert many is not None and many.search("eighteen miles")
    assert asks_for("What percentage of the vote did she win?") is not None
    assert asks_for("Who was the last keeper?") is None


def test_keyword_evidence_counts_the_question_content_words() -> None:
    assert keyword_evidence("Who was the last keeper?", "The last keeper left in 1994.")[1] == 1.0
    assert keyword_evidence("Who was the last keeper?", "The light was automated.")[1] == 0.0


def test_the_sentence_that_holds_what_is_asked_is_quoted_verbatim() -> None:
    passages = [passage(1, LIGHTHOUSE, "a.md"), passage(2, FERRY, "b.md")]
    quote = choose(
        "When was the Skerry Point lighthouse built?", passages, [0.6, 0.2], HashingEmbedder()
    )
    assert quote is not None
    assert quote.sentence == (
        "The Skerry Point lighthouse was built in 1871 by the Northern Lighthouse Board."
    )
    assert quote.passage.n == 1 and LIGHTHOUSE[quote.start : quote.end] == quote.sentence
    assert quote.text == (
        "The Skerry Point lighthouse was built in 1871 by the Northern Lighthouse Board [1]."
    )
    assert quote.support.sentence == quote.sentence and quote.support.n == 1


def test_a_hard_wrapped_sentence_reads_as_one_line_and_keeps_its_span() -> None:
    wrapped = (
        "Keepers' logs.\n\nThe Skerry Point lighthouse was built\nin 1871 by the Northern"
        "\n  Lighthouse Board."
    )
    quote = choose(
        "When was the Skerry Point lighthouse built?", [passage(1, wrapped, "a.md")], [0.6],
        HashingEmbedder(),
    )  # fmt: skip
    assert quote is not None and wrapped[quote.start : quote.end] == quote.sentence
    assert "\n" in quote.sentence  # the passage's own characters, for the highlight
    assert quote.text == (
        "The Skerry Point lighthouse was built in 1871 by the Northern Lighthouse Board [1]."
    )


def test_what_the_question_asks_for_decides_between_two_sentences() -> None:
    # The first sentence shares more words with the question; only "when" points at the
    # second (the weights here isolate the mechanism; the shipped ones are tuned).
    text = "The lighthouse was finished by the Board. Its builders completed the tower in 1871."
    passages = [passage(1, text, "a.md")]
    question = "When was the lighthouse finished?"
    plain = Weights(keywords=0.0, passage=0.0, rank=0.0, answer_type=0.0, min_score=0.0)
    typed = replace(plain, answer_type=1.0)
    by_words = choose(question, passages, [0.6], HashingEmbedder(), plain)
    by_type = choose(question, passages, [0.6], HashingEmbedder(), typed)
    assert by_words is not None and by_words.sentence.startswith("The lighthouse was finished")
    assert by_type is not None and by_type.sentence.endswith("in 1871.")


def test_a_weak_best_sentence_is_not_confident_and_nothing_is_no_quote() -> None:
    passages = [passage(1, FERRY, "b.md")]
    strict = replace(WEIGHTS, min_score=10.0)
    quote = choose("Who designed the harbour wall?", passages, [0.1], HashingEmbedder(), strict)
    assert quote is not None and not quote.confident
    assert choose("Anything?", [], [], HashingEmbedder()) is None
