"""`folio eval adapter`: scoring rules, and base vs adapter on the real model, through a
prompts file and through a small XQuAD-shaped library (with unanswerable variants)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop import atomic
from desktop.adapters.synth import write_lora
from desktop.cli import main
from desktop.evaluate.adapter_scoring import Passage, contains_any, is_refusal, score_answer
from desktop.evaluate.adapter_targets import judge, summary_line
from desktop.paths import Locations
from desktop.train import sidecar
from desktop.ui.model_bar import adapter_tooltip

BULLETS = r"(?:- [^\n]*\[\d+\]\n){0,2}- [^\n]*\[\d+\]|- The documents don't say\."


def test_scoring_rules() -> None:
    passages = [Passage("Denver Broncos won Super Bowl 50.", "a"), Passage("Other.", "b")]
    s = score_answer("- The Denver Broncos won [1]", passages, ["Denver Broncos"], "a", BULLETS)
    assert (s.contains_gold, s.cites_fact, s.cites_gold_source, s.format_ok) == (
        True, True, True, True,
    )  # fmt: skip
    assert not s.refused
    wrong = score_answer("Broncos, I think [2]", passages, ["Denver Broncos"], "a", BULLETS)
    assert not wrong.contains_gold and not wrong.cites_fact and wrong.format_ok is False
    gated = score_answer("I couldn't find anything", [], ["x"], "a", BULLETS, found=False)
    assert gated.refused and gated.format_ok is None  # the gate spoke, not the model
    assert contains_any("It was the 1930s.", ["1930s"]) and not contains_any("1930", ["1930s"])
    for text in (
        "The documents don't say.",
        "The passages do not mention his birthplace.",
        "I cannot determine that from the text.",
    ):
        assert is_refusal(text), text
    assert not is_refusal("The bridge opened in 1931 [1].")


def test_targets_and_summary() -> None:
    base = {"compliance": 0.1, "contains_gold": 0.2, "shown_cites_fact": 0.5, "answer_rate": 1.0,
            "refusal": 0.1}  # fmt: skip
    good = {"compliance": 0.995, "contains_gold": 0.45, "shown_cites_fact": 0.9,
            "answer_rate": 0.96, "refusal": 0.85}  # fmt: skip
    assert all(t.met for t in judge("bullet-brief", base, good))
    assert all(t.met for t in judge("grounded", base, good))
    missed = {t.name for t in judge("grounded", base, {**good, "answer_rate": 0.9})}
    assert "answer rate when answerable" in missed
    assert [t.name for t in judge("grounded", base, {**good, "answer_rate": 0.9}) if not t.met] == [
        "answer rate when answerable"
    ]
    assert judge("someone-elses", base, good) == []
    line = summary_line({"base": base, "with_adapter": good, "format_regex": "x", "items": 9})
    assert line.startswith("format compliance 99.5% against 10.0% without")


@pytest.fixture()
def styled_adapter(chat_model_path: Path) -> Path:
    path = write_lora(
        chat_model_path,
        Locations.from_environment().user_adapters_dir / "shouty.gguf",
        name="shouty",
        seed=5,
        description="A random test style",
    )
    atomic.write_text(
        sidecar.toml_path(path),
        sidecar.sidecar_text({"name": "shouty", "format_regex": BULLETS}),
    )
    Locations.from_environment().settings_file.write_text(
        json.dumps({"max_answer_tokens": 24, "k": 3})
    )
    return path


@pytest.mark.slow
def test_eval_on_a_prompts_file(
    styled_adapter: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    lines = [
        {"question": "When did the Harlow Bridge open?",
         "passages": ["The Harlow Bridge opened in 1931.", "Tarno has a fish market."],
         "answers": ["1931"], "gold": [1]},
        {"question": "Who founded the observatory?",
         "passages": ["The Harlow Bridge opened in 1931.", "Tarno has a fish market."],
         "answers": ["Mira Kestel"], "gold": []},
    ]  # fmt: skip
    prompts.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    assert main(["eval", "adapter", "shouty", "--prompts", str(prompts)]) == 0
    out = capsys.readouterr().out
    assert "1 answerable + 1 unanswerable questions" in out
    assert "format compliance" in out and "answer contains gold" in out

    stored = sidecar.read_eval(styled_adapter, Locations.from_environment().user_adapters_dir)
    assert stored is not None and stored["adapter"] == "shouty" and stored["items"] == 2
    assert len(stored["answers"]["base"]) == len(stored["answers"]["adapter"]) == 2
    base_answers = [a["answer"] for a in stored["answers"]["base"]]
    adapter_answers = [a["answer"] for a in stored["answers"]["adapter"]]
    assert base_answers != adapter_answers  # the adapter was really applied
    assert (
        stored["summary"]
        and sidecar.effect_line(styled_adapter, Locations.from_environment().user_adapters_dir)
        == stored["summary"]
    )
    from desktop.adapters import inspect

    effect = sidecar.effect_line(styled_adapter, Locations.from_environment().user_adapters_dir)
    tip = adapter_tooltip({"ok": True, "info": inspect(styled_adapter), "reason": "fits",
                           "description": "A random test style", "effect": effect})  # fmt: skip
    assert tip.splitlines()[0] == "A random test style"
    assert tip.splitlines()[1] == "Measured: " + stored["summary"]

    # The base answers are cached: a second run only answers with the adapter again.
    assert main(["eval", "adapter", "shouty", "--prompts", str(prompts), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["base"] == stored["base"]


@pytest.mark.slow
def test_eval_on_an_xquad_library(
    styled_adapter: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paragraphs = [
        ("Harlow Bridge", "The Harlow Bridge opened in 1931. It carries two lanes.",
         "When did the Harlow Bridge open?", "1931"),
        ("Lindqvist Observatory", "Mira Kestel founded the Lindqvist Observatory in Tarno.",
         "Who founded the Lindqvist Observatory?", "Mira Kestel"),
        ("Tarno", "Tarno is a fishing town with a covered market and a lighthouse.",
         "What kind of town is Tarno?", "fishing town"),
    ]  # fmt: skip
    data = {
        "version": "1.1",
        "data": [
            {
                "title": title,
                "paragraphs": [
                    {
                        "context": context,
                        "qas": [
                            {
                                "id": f"q{i}",
                                "question": q,
                                "answers": [{"text": a, "answer_start": context.find(a)}],
                            }
                        ],
                    }  # fmt: skip
                ],
            }
            for i, (title, context, q, a) in enumerate(paragraphs)
        ],
    }
    xquad = tmp_path / "xquad"
    xquad.mkdir()
    (xquad / "xquad.en.json").write_text(json.dumps(data))
    args = ["eval", "adapter", "shouty", "--xquad", str(xquad), "--questions", "2", "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    base, styled = result["base"], result["with_adapter"]
    assert base["answerable"] == styled["answerable"] == 2
    assert base["unanswerable"] + base["leaky_skipped"] == 2
    assert base["gold_retrieved"] == 1.0  # three short paragraphs: the gold one is found
    assert result["source"] == "XQuAD (en)"
    stored = sidecar.read_eval(styled_adapter, Locations.from_environment().user_adapters_dir)
    assert stored is not None
    dropped = [a for a in stored["answers"]["base"] if not a["answerable"]]
    assert dropped and all(not a["gold_retrieved"] for a in dropped)  # the gold is left out
