"""RAFT-style examples from a tiny SQuAD-format file, built through Folio's answer path."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from desktop.models.verify import sha256_file
from desktop.rag.prompt import SYSTEM_PROMPT
from desktop.train import squad_raft
from desktop.train.examples import load_examples
from desktop.train.styles import BULLET_FORMAT, BULLET_REFUSAL, REFUSAL

pytestmark = pytest.mark.fast

ARTICLES = {
    "Lighthouses": [
        (
            "The Skerry Point lighthouse was built in 1871 by the Northern Board. Its light "
            "could be seen for eighteen miles. The last keeper, Morag Duncan, left in 1994, "
            "when the light was automated.",
            [("Who was the last keeper of Skerry Point?", "Morag Duncan"),
             ("When was the Skerry Point lighthouse built?", "1871")],
        ),
        (
            "Bell Rock lighthouse stands on a reef off Arbroath. It is the oldest surviving "
            "sea-washed lighthouse in the world, first lit in 1811 after four years of work.",
            [("When was the Bell Rock lighthouse first lit?", "1811")],
        ),
        (
            "Lighthouse keepers kept logs of the weather, the ships that passed and the oil "
            "burned each night. Many logs are now kept in the national archive in Edinburgh.",
            [("Where are many keepers' logs kept now?", "the national archive in Edinburgh")],
        ),
    ],
    "Turbines": [
        (
            "The Zorblax turbine, installed in 2003, produced 42 megawatts at full load. It "
            "was replaced in 2019 by a quieter model built in Denmark, which, after many long "
            "and difficult trials at sea in the winter storms of the northern coast that year, "
            "was rated at 55 megawatts by the inspectors of the national grid authority.",
            [("How much power did the Zorblax turbine produce?", "42 megawatts"),
             ("What was the replacement rated at by the inspectors?", "55 megawatts")],
        ),
        (
            "Wind turbines turn the kinetic energy of the wind into electricity. Their blades "
            "can be longer than eighty metres.",
            [("How long can turbine blades be?", "longer than eighty metres")],
        ),
    ],
}  # fmt: skip


def _squad(tmp_path: Path, gz: bool = False) -> Path:
    data = {"version": "1.1", "data": []}
    qid = 0
    for title, paragraphs in ARTICLES.items():
        paras = []
        for context, qas in paragraphs:
            items = []
            for question, answer in qas:
                qid += 1
                start = context.index(answer)
                items.append({"id": str(qid), "question": question,
                              "answers": [{"text": answer, "answer_start": start}]})  # fmt: skip
            paras.append({"context": context, "qas": items})
        data["data"].append({"title": title, "paragraphs": paras})
    raw = json.dumps(data).encode()
    path = tmp_path / ("tiny.json.gz" if gz else "tiny.json")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def test_corpus_reads_plain_and_gzipped_files(tmp_path: Path) -> None:
    for gz in (False, True):
        corpus = squad_raft.load_corpus(_squad(tmp_path, gz))
        assert len(corpus.paragraphs) == 5 and len(corpus.questions) == 7
        assert corpus.by_article == {0: [0, 1, 2], 1: [3, 4]}
        # The keyword leg ranks the paragraph that shares the question's rare words first.
        assert corpus.keyword_ranked("Bell Rock reef Arbroath", 3)[0] == 1


def test_not_a_squad_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": []}')
    with pytest.raises(ValueError, match="not a SQuAD v1.1-format file"):
        squad_raft.load_corpus(bad)


def test_the_target_is_the_answer_sentence_in_the_passages_words() -> None:
    context, _ = ARTICLES["Lighthouses"][0]
    sentence = squad_raft.answer_sentence(context, "Morag Duncan", context.index("Morag"))
    assert sentence == "The last keeper, Morag Duncan, left in 1994, when the light was automated."
    assert squad_raft.cited(sentence, 2).endswith("automated [2].")
    # A long sentence is cut to the clauses around the answer, still the passage's words.
    long_context, _ = ARTICLES["Turbines"][0]
    cut = squad_raft.answer_sentence(long_context, "55 megawatts")
    assert cut is not None and "55 megawatts" in cut
    assert len(cut.split()) <= squad_raft.MAX_ANSWER_WORDS
    assert cut[1:].lower() in long_context.lower()
    # With no limit (--answer-words 0) the target is the whole sentence, as written.
    whole = squad_raft.answer_sentence(long_context, "55 megawatts", most=0)
    assert whole is not None and whole != cut and cut[1:] in whole and whole in long_context
    assert squad_raft.answer_sentence(context, "not there") is None


@pytest.mark.parametrize("kind", ["grounded", "bullet-brief"])
def test_examples_follow_the_answer_path_and_cite_the_gold(tmp_path: Path, kind: str) -> None:
    corpus = squad_raft.load_corpus(_squad(tmp_path))
    examples, tally = squad_raft.generate(corpus, kind, 7, seed=3, decline_share=0.25)
    assert len(examples) == 7
    assert tally.answered + tally.declined_no_gold == 7
    refusal = BULLET_REFUSAL if kind == "bullet-brief" else REFUSAL
    answered = 0
    for ex in examples:
        system, user, answer = (m.content for m in ex.messages)
        assert system == SYSTEM_PROMPT
        assert user.rstrip().endswith("like [1].")
        numbers = [int(n) for n in re.findall(r"^\[(\d)\] ", user, re.M)]
        assert numbers == list(range(1, len(numbers) + 1)) and 1 <= len(numbers) <= 3
        if answer == refusal:
            continue
        answered += 1
        n = int(re.search(r"\[(\d)\]\.?$", answer).group(1))  # type: ignore[union-attr]
        cited_text = re.search(rf"^\[{n}\] (.*)$", user, re.M).group(1)  # type: ignore[union-attr]
        body = re.sub(r"^- ", "", answer).rstrip(".")[: -len(f" [{n}]")]
        # The answer's words are the cited passage's own.
        assert body.lower().rstrip(".") in cited_text.lower()
        if kind == "bullet-brief":
            assert re.fullmatch(BULLET_FORMAT, answer)
    assert answered == tally.answered > 0


def test_the_gold_passage_sits_where_folios_search_puts_it(tmp_path: Path) -> None:
    """Mostly first, as at answer time (GOLD_POSITION_WEIGHTS), not uniformly anywhere."""
    corpus = squad_raft.load_corpus(_squad(tmp_path))
    rng = squad_raft.random.Random(1)
    tally = squad_raft.Tally()
    first = several = 0
    for i in range(300):
        qa = corpus.questions[i % len(corpus.questions)]
        ex = squad_raft.build_example(corpus, qa, rng, "grounded", 0.0, tally)
        if ex is None or ex.messages[1].content.count("\n\n[") == 0:
            continue  # the gold alone: no position to choose
        several += 1
        first += ex.messages[-1].content.endswith("[1].")
    assert several > 100
    assert first / several > 0.75  # uniform placement would put it first about half the time


def test_declined_examples_hold_no_passage_with_the_answer(tmp_path: Path) -> None:
    corpus = squad_raft.load_corpus(_squad(tmp_path))
    rng = squad_raft.random.Random(0)
    tally = squad_raft.Tally()
    qa = corpus.questions[0]  # the last keeper
    for _ in range(10):
        ex = squad_raft.build_example(corpus, qa, rng, "grounded", 1.0, tally)
        assert ex is not None and ex.messages[-1].content == REFUSAL
        assert "Morag Duncan" not in ex.messages[1].content
    assert tally.declined_no_gold == 10


def test_the_command_writes_examples_and_their_recipe(tmp_path: Path) -> None:
    src = _squad(tmp_path, gz=True)
    out = tmp_path / "out.jsonl"
    assert squad_raft.main(["grounded", "--squad", str(src), "--n", "6", "--out", str(out)]) == 0
    assert len(load_examples(out)) == 6
    recipe = json.loads(out.with_suffix(".recipe.json").read_text())
    assert recipe["source_sha256"] == sha256_file(src)
    assert "CC BY-SA 4.0" in recipe["attribution"] and recipe["examples"] == 6


def test_titles_start_each_passage_as_an_indexed_file_does(tmp_path: Path) -> None:
    """With `--titles` a passage reads "Title\\n\\ntext", as Folio's chunk of a file with a
    heading line does; the target is still a sentence of the text, never the title."""
    corpus = squad_raft.load_corpus(_squad(tmp_path))
    assert corpus.paragraphs[3].title == "Turbines"
    examples, tally = squad_raft.generate(corpus, "grounded", 7, seed=3, titles=True)
    assert len(examples) == 7 and tally.answered > 0
    titled = 0
    for ex in examples:
        user, answer = ex.messages[1].content, ex.messages[2].content
        titled += bool(re.search(r"^\[\d\] (Lighthouses|Turbines)\n\n", user, re.M))
        if answer == REFUSAL:
            continue
        assert not answer.startswith(("Lighthouses", "Turbines")) and "\n" not in answer
        body = answer[: answer.rindex(" [")]
        assert body.lower() in user.lower()  # (a clause cut starts with a capital)
    assert titled >= len(examples) // 2
    # The first sentence of a passage (joined to the title by the sentence splitter) is a
    # target without its title line.
    lighthouse = squad_raft.Paragraph(0, ARTICLES["Lighthouses"][0][0], "Lighthouses")
    sentence = squad_raft.answer_sentence(lighthouse.as_file(True), "1871", None, 0)
    assert sentence is not None and sentence.startswith("Lighthouses\n\n")
    assert squad_raft._without_heading(sentence) == (
        "The Skerry Point lighthouse was built in 1871 by the Northern Board."
    )
    # Without titles (the shipped recipes' default) the passage is the paragraph alone.
    assert lighthouse.as_file(False) == ARTICLES["Lighthouses"][0][0]
