"""Answers on the real stack: real embedder, SQLite + sqlite-vec + FTS5, real llama.cpp model."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.cancel import CancelToken
from desktop.library.indexer import Indexer
from desktop.library.search import Searcher
from desktop.library.store import Library
from desktop.rag.answer import Answerer
from desktop.rag.prompt import NOT_FOUND, cited_numbers
from desktop.sample import make_corpus


@pytest.fixture()
def answerer(tmp_path: Path, real_embedder, real_tokenizer, real_engine):  # type: ignore[no-untyped-def]
    lib = Library(tmp_path / "lib.sqlite")
    Indexer(lib, real_embedder, real_tokenizer).index([make_corpus(tmp_path)])
    yield Answerer(Searcher(lib, real_embedder), real_engine, k=4, max_tokens=80)
    lib.close()


def test_ask_streams_and_cites_the_right_file_and_page(answerer) -> None:
    pieces: list[str] = []
    answer = answerer.ask(
        "How many megawatts did the Zorblax turbine produce?", on_token=pieces.append
    )
    assert len(pieces) > 1, "the answer should arrive as a stream of pieces"
    assert "".join(pieces).strip() == answer.model_text  # the text as the model streamed it
    assert "42" in answer.text
    assert answer.citations, "an answer drawn from the library must cite it"
    first = answer.citations[0]
    assert Path(first.path).name == "operations-report.pdf"
    assert first.page == 2
    assert "Zorblax" in first.text
    t = answer.timings_ms
    assert 0 < t["retrieve"] <= t["first_token"] <= t["total"]


def test_unrelated_question_says_so_instead_of_inventing(answerer) -> None:
    answer = answerer.ask("What is the boiling point of liquid nitrogen on Neptune's moons?")
    assert not answer.found
    assert answer.text == NOT_FOUND
    assert answer.citations == []


def test_cancel_stops_mid_stream(answerer) -> None:
    cancel = CancelToken()
    pieces: list[str] = []

    def on_token(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            cancel.cancel()

    answer = answerer.ask("Describe the maintenance schedule.", on_token=on_token, cancel=cancel)
    assert answer.stopped
    assert len(pieces) == 3


def test_cited_numbers_parses_and_bounds() -> None:
    assert cited_numbers("A [2]. B [1, 3]. C [9] [2]", available=3) == [2, 1, 3]
    assert cited_numbers("none here", available=3) == []
