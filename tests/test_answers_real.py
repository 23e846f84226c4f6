"""What a new user gets, on the real stack (real embedder, SQLite with sqlite-vec and FTS5,
the real llama.cpp model): the cases seen in the window and the CLI that answered wrongly or
refused before, answered by quoting (a new install's default) and by the model writing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.config import Config
from desktop.evaluate.squad import declined
from desktop.paths import Locations
from desktop.rag.budget import content_words
from desktop.rag.grounding import MIN_SUPPORT, support_share
from desktop.session import Session
from desktop.settings import Settings

pytestmark = pytest.mark.slow

LIGHTHOUSE = (
    "# Skerry Point\n\n"
    "The Skerry Point lighthouse was built in 1871 by the Northern Lighthouse Board on the "
    "rocks at the mouth of the firth. Its light could be seen for eighteen miles. The last "
    "keeper, Morag Duncan, left in 1994, when the light was automated.\n"
)
HARBOUR = (
    "# The harbour\n\n"
    "The harbour wall at Skerry was rebuilt after the great storm of 1943. Fishing boats "
    "still moor inside it through the winter.\n"
)
FERRY = (
    "# The ferry\n\n"
    "A ferry to the island has sailed from the pier every morning since 1962. The crossing "
    "takes forty minutes in calm weather.\n"
)


BOTH = pytest.mark.parametrize("session", ["quote", "write"], indirect=True)


@pytest.fixture()
def session(
    request: pytest.FixtureRequest, tmp_path: Path, locations: Locations
) -> Iterator[Session]:
    """The three-file library, answered by quoting and (the second run) by the model."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in (
        ("article1.md", FERRY),
        ("article2.md", LIGHTHOUSE),
        ("article3.md", HARBOUR),
    ):
        (docs / name).write_text(text, encoding="utf-8")
    settings = Settings(answer_mode=request.param)  # tests name it: BOTH, or their own list
    s = Session(Config.resolve(settings, locations, tmp_path / "library.sqlite"))
    s.indexer.index([docs])
    yield s
    s.close()


def _check_citations(answer) -> None:  # type: ignore[no-untyped-def]
    """The [n] in the text are exactly the sources listed as cited, and each cited passage
    holds the content words of the sentence that cites it."""
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert numbers == {c.n for c in answer.citations}, answer.text
    by_n = {c.n: c for c in answer.citations}
    for sentence in re.split(r"(?<=[.!?\]])\s+|\n", answer.text):
        for n in {int(x) for x in re.findall(r"\[(\d+)\]", sentence)}:
            words = set(content_words(re.sub(r"\[\d+\]", "", sentence)))
            assert support_share(words, set(content_words(by_n[n].text))) >= MIN_SUPPORT
    for s in answer.support:
        assert s.sentence in by_n[s.n].text  # verbatim, with its place in the passage


def test_a_new_user_gets_the_default_answer_and_a_chosen_style_sticks(
    tmp_path: Path, locations: Locations
) -> None:
    # The measured-best default is quoting; written answers in the model's own style
    # (docs/BENCHMARKS.md).
    fresh = Settings()
    assert fresh.answer_mode == "quote" and fresh.style == ""
    with Session(Config.resolve(fresh, locations, tmp_path / "new.sqlite")) as new:
        assert new.answerer.answer_mode == "quote"
        assert new.engine.active_adapters == ()
    chosen = Settings(style="grounded", style_scale=0.8)
    with Session(Config.resolve(chosen, locations, tmp_path / "other.sqlite")) as other:
        assert other.engine.active_adapters == (("grounded", 0.8),)


@BOTH
def test_the_last_keeper_is_answered_not_refused(session: Session) -> None:
    # The question lacks "lighthouse"; its content words are in the passage.
    answer = session.answerer.ask("Who was the last keeper?")
    assert answer.found and not declined(answer.text, answer.found), answer.text
    assert "Morag Duncan" in answer.text
    _check_citations(answer)
    assert [Path(c.path).name for c in answer.citations] == ["article2.md"]


@pytest.mark.parametrize(
    ("session", "style"),
    [("quote", ""), ("write", ""), ("write", "grounded")],
    indirect=["session"],
)
def test_the_lighthouse_questions_are_answered(session: Session, style: str) -> None:
    session.engine.set_adapters([(style, 1.0)] if style else [])
    built = session.answerer.ask("When was the Skerry Point lighthouse built?")
    assert "1871" in built.text and not declined(built.text, built.found), built.text
    about = session.answerer.ask("Tell me about the Skerry Point lighthouse.")
    assert not declined(about.text, about.found), about.text
    for answer in (built, about):
        _check_citations(answer)


@BOTH
def test_the_numbers_in_the_text_are_the_sources_listed(session: Session) -> None:
    # Seen before: "[1] 1943" in the text, while the list said [2] was the one cited.
    for question in (
        "When was the harbour wall rebuilt?",
        "What year was the harbour wall rebuilt after the storm?",
        "How long does the ferry crossing take?",
        "When was the Skerry Point lighthouse built?",
    ):
        answer = session.answerer.ask(question)
        assert answer.found, question
        _check_citations(answer)
