"""Chat history on the real library file: store, list, rename, delete, export."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.errors import LibraryError
from desktop.library.conversations import DEFAULT_TITLE, Conversations, title_from
from desktop.library.passage import ChunkRecord, Citation
from desktop.library.store import Library


@pytest.fixture()
def chats(tmp_path: Path):  # type: ignore[no-untyped-def]
    lib = Library(tmp_path / "lib.sqlite")
    yield Conversations(lib.db)
    lib.close()


CITE = Citation.numbered(
    1,
    ChunkRecord(
        7,
        3,
        "/docs/project/operations-report.pdf",
        2,
        None,
        "The Zorblax turbine produced 42 megawatts.",
        0,
        42,
    ),
)


def test_first_question_names_the_chat_and_answers_keep_citations(chats: Conversations) -> None:
    cid = chats.create()
    chats.add_message(cid, "user", "How many megawatts did the Zorblax turbine produce?")
    chats.add_message(
        cid,
        "assistant",
        "It produced 42 MW [1].",
        [CITE],
        {"timings_ms": {"retrieve": 3.0}, "tokens_per_s": 70.0},
    )
    chat = chats.get(cid)
    assert chat.title == "How many megawatts did the Zorblax turbine produce?"
    assert chat.messages == 2
    question, answer = chats.messages(cid)
    assert question.role == "user" and answer.role == "assistant"
    assert answer.citations[0]["page"] == 2
    assert answer.citations[0]["path"].endswith("operations-report.pdf")
    assert answer.citations[0]["char_end"] == 42
    assert answer.meta["tokens_per_s"] == 70.0


def test_list_is_most_recent_first_and_survives_reopening(tmp_path: Path) -> None:
    with Library(tmp_path / "lib.sqlite") as lib:
        chats = Conversations(lib.db)
        first = chats.create("First")
        second = chats.create("Second")
        chats.add_message(first, "user", "bump")
    with Library(tmp_path / "lib.sqlite") as lib:
        listed = Conversations(lib.db).all()
        assert [c.id for c in listed] == [first, second]
        assert Conversations(lib.db).latest() is not None


def test_rename_delete_and_missing_chat(chats: Conversations) -> None:
    cid = chats.create()
    chats.rename(cid, "  Turbine   questions ")
    assert chats.get(cid).title == "Turbine questions"
    chats.rename(cid, "   ")
    assert chats.get(cid).title == DEFAULT_TITLE
    chats.add_message(cid, "user", "hello")
    chats.delete(cid)
    assert chats.all() == []
    assert chats.messages(cid) == []
    with pytest.raises(LibraryError):
        chats.get(cid)
    with pytest.raises(ValueError):
        chats.add_message(chats.create(), "system", "no")


def test_history_skips_stopped_and_not_found_answers(chats: Conversations) -> None:
    cid = chats.create()
    chats.add_message(cid, "user", "q1")
    chats.add_message(cid, "assistant", "a1", meta={"found": True})
    chats.add_message(cid, "user", "q2")
    chats.add_message(cid, "assistant", "a2", meta={"stopped": True})
    chats.add_message(cid, "user", "q3")
    chats.add_message(cid, "assistant", "a3", meta={"found": False})
    assert chats.history(cid) == [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
    ]
    assert chats.history(cid, turns=0) == []


def test_export_markdown_has_questions_answers_and_sources(
    chats: Conversations, tmp_path: Path
) -> None:
    cid = chats.create()
    chats.add_message(cid, "user", "How many megawatts?")
    chats.add_message(cid, "assistant", "42 megawatts [1].", [CITE], {"stopped": True})
    out = chats.export_to(cid, tmp_path / "chat.md")
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# How many megawatts?\n")
    assert "## Question\n\nHow many megawatts?" in text
    assert "## Answer\n\n42 megawatts [1]." in text
    assert "1. **operations-report.pdf, page 2** — `/docs/project/operations-report.pdf`" in text
    assert "> The Zorblax turbine produced 42 megawatts." in text
    assert "stopped before the end" in text
    with pytest.raises(LibraryError, match="cannot write"):
        chats.export_to(cid, tmp_path / "missing-dir" / "chat.md")


def test_title_from_long_question_is_cut_at_a_word() -> None:
    title = title_from("word " * 40)
    assert title.endswith("…") and len(title) <= 61
    assert title_from("   ") == DEFAULT_TITLE


def test_update_message_replaces_citations_and_meta(chats: Conversations) -> None:
    cid = chats.create()
    chats.add_message(cid, "user", "q")
    mid = chats.add_message(cid, "assistant", "Stopped early [1]", meta={"stopped": True})
    chats.update_message(mid, [CITE], {"stopped": True, "passages": [{"n": 1}]})
    message = chats.message(mid)
    assert message.content == "Stopped early [1]"
    assert message.citations[0]["page"] == 2
    assert message.meta == {"stopped": True, "passages": [{"n": 1}]}
    chats.delete(cid)
    with pytest.raises(LibraryError):
        chats.update_message(mid, [], {})
