"""Citations by construction: every [n] left in an answer is backed by passage n."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from desktop.library.passage import Citation
from desktop.rag.budget import content_words
from desktop.rag.grounding import MIN_SUPPORT, Support, ground, heading_words, support_share
from desktop.rag.shape import Shape

pytestmark = pytest.mark.fast

LIGHTHOUSE = (
    "The Skerry Point lighthouse was built in 1871 by the Northern Board. Its light could "
    "be seen for eighteen miles. The last keeper, Morag Duncan, left in 1994, when the light "
    "was automated."
)
WAR = "The harbour wall was rebuilt after the storm of 1943. Fishing boats moored inside it."
# The shipped bullet style's declared format (models/adapters/bullet-brief.toml).
BULLET_FORMAT = r"(?:- [^\n]*\[\d+\]\n){0,2}- [^\n]*\[\d+\]|- The documents don't say\."
BULLETS = Shape.of(BULLET_FORMAT)


def _passages(*texts: str) -> list[Citation]:
    return [Citation.of_text(n, t, f"/docs/article{n}.md") for n, t in enumerate(texts, 1)]


def _marks(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


def _check_invariants(text: str, cited: list[Citation], passages: list[Citation]) -> None:
    """The numbers in the text are exactly the cited sources, and each cited passage holds
    the content words of the sentence that cites it."""
    assert sorted(set(_marks(text))) == sorted(c.n for c in cited)
    by_n = {p.n: p for p in passages}
    for line in re.split(r"(?<=[.!?\]])\s+|\n", text):
        for n in _marks(line):
            words = set(content_words(re.sub(r"\[\d+\]", "", line)))
            assert support_share(words, set(content_words(by_n[n].text))) >= MIN_SUPPORT


def test_a_wrong_number_is_corrected_so_text_and_sources_agree() -> None:
    passages = _passages(LIGHTHOUSE, WAR)
    # The model wrote [1] after a fact from passage 2 (seen in the window: "[1] 1943").
    g = ground("The harbour wall was rebuilt after the storm of 1943 [1].", passages, "When?")
    assert g.text == "The harbour wall was rebuilt after the storm of 1943 [2]."
    assert [c.n for c in g.cited] == [2] and g.how == "corrected"
    assert g.support[0].sentence == "The harbour wall was rebuilt after the storm of 1943."
    s = g.support[0]
    assert WAR[s.start : s.end] == s.sentence
    _check_invariants(g.text, g.cited, passages)


def test_a_supported_citation_is_kept_as_written() -> None:
    passages = _passages(LIGHTHOUSE, WAR)
    g = ground("The last keeper was Morag Duncan [1].", passages, "Who was the last keeper?")
    assert g.text == "The last keeper was Morag Duncan [1]." and g.how == "model"
    assert g.support[0].sentence.startswith("The last keeper, Morag Duncan")
    _check_invariants(g.text, g.cited, passages)


def test_an_uncited_sentence_gets_the_number_of_its_passage() -> None:
    passages = _passages(WAR, LIGHTHOUSE)
    g = ground("The lighthouse was built in 1871.", passages, "When was it built?")
    assert g.text == "The lighthouse was built in 1871 [2]."
    _check_invariants(g.text, g.cited, passages)


def test_an_unsupported_answer_falls_back_to_quoting_the_best_sentence() -> None:
    passages = _passages(LIGHTHOUSE, WAR)
    g = ground("It was painted bright purple by pirates [2].", passages, "Who was the last keeper?")
    assert g.how == "quoted"
    assert g.text == (
        "The last keeper, Morag Duncan, left in 1994, when the light was automated [1]."
    )
    _check_invariants(g.text, g.cited, passages)
    # The bullet style quotes as a bullet.
    b = ground("- Pirates [1]", passages, "Who was the last keeper?", BULLETS)
    assert b.text.startswith("- The last keeper") and b.text.endswith("[1]")


def test_an_answer_that_only_repeats_the_passage_title_is_not_an_answer() -> None:
    """Small models answer with the title line a file starts with ("Super Bowl 50 [1]."):
    it is in the passage, but answers nothing, so the answer quotes the best sentence."""
    passages = _passages("Skerry Point\n\n" + LIGHTHOUSE, WAR)
    assert heading_words(passages[0]) == {"skerry", "point"}
    assert heading_words(passages[1]) == set()  # no title line
    question = "Who was the last keeper?"
    g = ground("Skerry Point [1].", passages, question)
    assert g.how == "quoted" and g.text.startswith("The last keeper, Morag Duncan")
    _check_invariants(g.text, g.cited, passages)
    # Beside a real answer the title echo is dropped; the answer stands.
    g = ground("Skerry Point [1]. The last keeper was Morag Duncan [1].", passages, question)
    assert g.text == "The last keeper was Morag Duncan [1]." and g.how == "corrected"
    # A chunk's own heading counts too; a sentence with more than the title stays.
    headed = [replace(p, heading="Skerry Point lighthouse") for p in _passages(LIGHTHOUSE)]
    assert ground("Skerry Point lighthouse [1].", headed, question).how == "quoted"
    kept = ground("The Skerry Point lighthouse was built in 1871 [1].", headed, "When?")
    assert kept.how == "model"


def test_unsupported_sentences_are_dropped_and_supported_ones_kept() -> None:
    passages = _passages(LIGHTHOUSE, WAR)
    g = ground(
        "The lighthouse was built in 1871 [1]. It was painted purple by pirates [1].",
        passages,
        "When was it built?",
    )
    assert g.text == "The lighthouse was built in 1871 [1]." and g.how == "corrected"


def test_bullets_keep_their_format() -> None:
    passages = _passages(LIGHTHOUSE, WAR)
    g = ground(
        "- The lighthouse was built in 1871 [2]\n- The wall was rebuilt in 1943 [2]",
        passages,
        "What happened?",
    )
    assert g.text == "- The lighthouse was built in 1871 [1]\n- The wall was rebuilt in 1943 [2]"
    _check_invariants(g.text, g.cited, passages)


def test_a_decline_is_left_alone() -> None:
    g = ground("The documents don't say.", _passages(LIGHTHOUSE), "Who painted it?")
    assert g.text == "The documents don't say." and g.cited == [] and g.how == "declined"


def test_a_decline_gives_way_to_a_confident_quote_in_the_answers_style() -> None:
    passages = _passages(WAR, LIGHTHOUSE)
    at = LIGHTHOUSE.index("The last keeper")
    keeper = LIGHTHOUSE[at : LIGHTHOUSE.index("automated.") + len("automated.")]
    support = Support(2, keeper, at, at + len(keeper))
    asked: list[str] = []

    def answerable() -> Support | None:
        asked.append("asked")
        return support

    g = ground("- The documents don't say.", passages, "Who was the last keeper?", BULLETS,
               answerable=answerable)  # fmt: skip
    assert g.how == "quoted" and g.support == [support] and g.cited == [passages[1]]
    assert (
        g.text == "- The last keeper, Morag Duncan, left in 1994, when the light was automated [2]"
    )
    plain = ground("The documents don't say.", passages, "Who?", answerable=answerable)
    assert plain.text.endswith("automated [2].") and not plain.text.startswith("-")
    # an answer that is not a decline asks too (it leads with the quote when it misses it)
    led = ground("The wall was rebuilt in 1943 [1].", passages, "When?", answerable=answerable)
    assert asked == ["asked", "asked", "asked"] and led.support[0] == support


def test_a_decline_stands_when_the_passages_do_not_answer() -> None:
    g = ground("The documents don't say.", _passages(LIGHTHOUSE), "Who painted it?",
               answerable=lambda: None)  # fmt: skip
    assert g.how == "declined" and g.cited == []


def test_a_wrong_number_is_not_supported() -> None:
    passages = _passages(LIGHTHOUSE, WAR)
    g = ground("The lighthouse was built in 1872 [1].", passages, "When was it built?")
    assert g.how == "quoted" and "1871" in g.text


def test_a_bullet_ends_with_its_one_mark_and_is_said_once() -> None:
    passages = _passages(LIGHTHOUSE, WAR)
    g = ground(
        "- The lighthouse [1] was built in 1871\n- The lighthouse [1] was built in 1871\n"
        "- The wall was rebuilt in 1943 [2].",
        passages,
        "What was built when?",
    )
    assert g.text == "- The lighthouse was built in 1871 [1]\n- The wall was rebuilt in 1943 [2]"
    assert g.how == "corrected"
    _check_invariants(g.text, g.cited, passages)


def test_other_ways_of_declining_are_declines() -> None:
    g = ground("- The documents did not say.", _passages(LIGHTHOUSE), "Who painted it?")
    assert g.how == "declined"


def test_answers_that_miss_the_confident_quote_are_led_by_it() -> None:
    passages = _passages(WAR, LIGHTHOUSE)
    at = LIGHTHOUSE.index("The last keeper")
    keeper = LIGHTHOUSE[at:]
    support = Support(2, keeper, at, at + len(keeper))
    missed = ground(
        "- The harbour wall was rebuilt after the storm of 1943 [1]\n"
        "- Fishing boats moored inside it [1]\n- Its light could be seen for eighteen miles [2]",
        passages,
        "Who was the last keeper?",
        BULLETS,
        answerable=lambda: support,
    )
    assert missed.text.splitlines() == [
        "- The last keeper, Morag Duncan, left in 1994, when the light was automated [2]",
        "- The harbour wall was rebuilt after the storm of 1943 [1]",
        "- Fishing boats moored inside it [1]",
    ]  # three bullets at most
    assert missed.support[0] == support and missed.how == "corrected"
    _check_invariants(missed.text, missed.cited, passages)
    hit = ground("- Morag Duncan was the last keeper [2]", passages, "Who?", BULLETS,
                 answerable=lambda: support)  # fmt: skip
    assert hit.text == "- Morag Duncan was the last keeper [2]" and hit.how == "model"
    # Prose that misses it is led by it too, as a sentence; prose that stands on it is not.
    prose = ground("The wall was rebuilt in 1943 [1].", passages, "Who?",
                   answerable=lambda: support)  # fmt: skip
    assert prose.text == (
        "The last keeper, Morag Duncan, left in 1994, when the light was automated [2]. "
        "The wall was rebuilt in 1943 [1]."
    )
    assert prose.support[0] == support and prose.how == "corrected"
    _check_invariants(prose.text, prose.cited, passages)
    kept = ground("Morag Duncan was the last keeper [2].", passages, "Who?",
                  answerable=lambda: support)  # fmt: skip
    assert kept.text == "Morag Duncan was the last keeper [2]." and kept.how == "model"
    alone = ground("The wall was rebuilt in 1943 [1].", passages, "Who?", answerable=lambda: None)
    assert alone.text == "The wall was rebuilt in 1943 [1]."  # no confident quote: as written


def test_a_cut_copy_of_the_confident_quote_is_quoted_whole() -> None:
    """Seen on XQuAD: "The Panthers defense gave up just 308 points, ranking sixth in the
    league [1]." for "How many interceptions?": the sentence went on to say "24"."""
    passages = _passages(WAR, LIGHTHOUSE)
    at = LIGHTHOUSE.index("The last keeper")
    keeper = LIGHTHOUSE[at:]
    support = Support(2, keeper, at, at + len(keeper))
    whole = "The last keeper, Morag Duncan, left in 1994, when the light was automated [2]."
    question = "When did the last keeper leave?"
    cut = ground("The last keeper, Morag Duncan [2].", passages, question,
                 answerable=lambda: support)  # fmt: skip
    assert cut.text == whole and cut.support == [support] and cut.how == "corrected"
    _check_invariants(cut.text, cut.cited, passages)
    twice = ground("- The last keeper [2]\n- Morag Duncan, left in 1994 [2]", passages,
                   question, BULLETS, answerable=lambda: support)  # fmt: skip
    assert twice.text == "- " + whole[:-1]  # both pieces became the sentence: said once
    # A paraphrase, or no confident quote: left as written (another sentence is led by the
    # quote: test_bullets_that_miss_the_confident_quote_are_led_by_it).
    for answer, confident in (
        ("Morag Duncan left in 1994 [2].", support),
        ("The last keeper, Morag Duncan [2].", None),
    ):
        kept = ground(answer, passages, question, answerable=lambda c=confident: c)
        assert kept.text == answer and kept.how == "model"


def test_a_bulleted_style_gets_bullets_even_when_the_model_writes_prose() -> None:
    passages = _passages(LIGHTHOUSE, WAR)
    fmt = re.compile(BULLET_FORMAT)
    g = ground(
        "The lighthouse was built in 1871 [1]. The wall was rebuilt in 1943 [2].",
        passages,
        "What happened?",
        BULLETS,
    )
    assert g.text == "- The lighthouse was built in 1871 [1]\n- The wall was rebuilt in 1943 [2]"
    assert fmt.fullmatch(g.text) and g.how == "corrected"
    _check_invariants(g.text, g.cited, passages)
    # The same prose under no declared style stays prose.
    plain = ground("The lighthouse was built in 1871 [1].", passages, "When?")
    assert plain.text == "The lighthouse was built in 1871 [1]."


def test_a_bulleted_style_keeps_its_limit_and_its_decline() -> None:
    passages = _passages(LIGHTHOUSE, WAR)
    four = (
        "- The lighthouse was built in 1871 [1]\n- Its light could be seen for eighteen miles "
        "[1]\n- The last keeper left in 1994 [1]\n- The wall was rebuilt in 1943 [2]"
    )
    g = ground(four, passages, "Tell me about it.", BULLETS)
    assert g.text.count("\n- ") == 2 and "1943" not in g.text
    assert re.fullmatch(BULLET_FORMAT, g.text)
    declined = ground("The documents do not say.", passages, "Who painted it?", BULLETS)
    assert declined.text == "- The documents don't say." and declined.how == "declined"


@pytest.mark.parametrize(
    ("regex", "bullets", "most", "decline"),
    [
        (BULLET_FORMAT, True, 3, "- The documents don't say."),
        (r"(?s)(?=.*\[\d+\]).+|The documents don't say\.", False, 0, "The documents don't say."),
        (r"(?:- [^\n]*\n)*- [^\n]*", True, 0, "- The documents don't say."),
        ("", False, 0, None),
        ("([unclosed", False, 0, None),
    ],
)
def test_the_shape_is_read_from_the_declared_format(
    regex: str, bullets: bool, most: int, decline: str | None
) -> None:
    from desktop.rag.prompt import NOT_FOUND

    shape = Shape.of(regex)
    assert (shape.bullets, shape.max_bullets) == (bullets, most)
    assert shape.decline == (decline or NOT_FOUND)
