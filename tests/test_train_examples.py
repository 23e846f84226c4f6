"""Examples are checked before training: every problem named with its line number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.train.errors import ExamplesError
from desktop.train.examples import load_examples, parse_pasted, write_jsonl
from desktop.train.job import TrainJob, TrainProgress


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "examples.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_both_shapes_load(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            json.dumps({"prompt": "Hi?", "response": "- Hello [1]"}),
            "",
            json.dumps(
                {
                    "messages": [
                        {"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "Colour?"},
                        {"role": "assistant", "content": "Blue."},
                        {"role": "user", "content": "Another?"},
                        {"role": "assistant", "content": "Red."},
                    ]
                }
            ),
            json.dumps({"prompt": "Q", "response": "A", "system": "S"}),
        ],
    )
    examples = load_examples(path)
    assert [e.line for e in examples] == [1, 3, 4]
    assert [m.role for m in examples[1].messages] == [
        "system", "user", "assistant", "user", "assistant",
    ]  # fmt: skip
    assert examples[2].messages[0].content == "S"
    again = load_examples(write_jsonl(examples, tmp_path / "again.jsonl"))
    assert [e.messages for e in again] == [e.messages for e in examples]


def test_every_bad_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            json.dumps({"prompt": "fine", "response": "fine"}),
            '{"prompt": "broken",',
            json.dumps({"prompt": "no answer"}),
            json.dumps({"messages": [{"role": "robot", "content": "x"}]}),
            json.dumps(
                {
                    "messages": [
                        {"role": "assistant", "content": "I speak first"},
                        {"role": "user", "content": "?"},
                    ]
                }
            ),
            json.dumps({"messages": [{"role": "user", "content": "only a question"}]}),
            json.dumps(["not", "an", "object"]),
        ],
    )
    with pytest.raises(ExamplesError) as err:
        load_examples(path)
    message = str(err.value)
    assert message.startswith(str(path))
    assert "line 2: not valid JSON" in message
    assert 'line 3: missing "response"' in message
    assert 'line 4: message 1 has role "robot"' in message
    assert "line 5: first has role 'assistant'" in message
    assert "line 6: it must end with an assistant message" in message
    assert "(and 1 more)" in message  # five listed, the seventh line counted
    assert "line 1" not in message


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = _write(tmp_path, ["", "   "])
    with pytest.raises(ExamplesError, match="has no examples"):
        load_examples(empty)
    with pytest.raises(ExamplesError, match="examples file not found"):
        load_examples(tmp_path / "nope.jsonl")
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"prompt": "caf\xe9", "response": "x"}\n')
    with pytest.raises(ExamplesError, match="not UTF-8"):
        load_examples(latin)


def test_pasted_questions_and_answers() -> None:
    examples = parse_pasted(
        "Q: What is the notice period?\nA: - Thirty days [1]\n- In writing [2]\n\n"
        "question: Who pays for repairs?\nanswer: The landlord [3]\n"
    )
    assert [(e.messages[0].content, e.messages[1].content) for e in examples] == [
        ("What is the notice period?", "- Thirty days [1]\n- In writing [2]"),
        ("Who pays for repairs?", "The landlord [3]"),
    ]
    assert [e.line for e in examples] == [1, 5]


def test_pasted_mistakes_are_named() -> None:
    with pytest.raises(ExamplesError) as err:
        parse_pasted("hello\nA: orphan\nQ: fine\nA: ok\nA: again\nQ: no answer\n")
    message = str(err.value)
    assert "line 1: text before the first 'Q:' question" in message
    assert "line 2: an answer comes before any 'Q:' question" in message
    assert "line 5: a second 'A:' for the same question" in message
    assert "line 6: this question has no 'A:' answer" in message
    with pytest.raises(ExamplesError, match="hold no examples"):
        parse_pasted("\n\n")


def test_job_checks_its_settings(tmp_path: Path) -> None:
    base = {"examples": tmp_path / "e.jsonl", "model_path": tmp_path / "m.gguf"}
    job = TrainJob(name="plain-english", out_dir=tmp_path, **base)
    assert job.adapter_path == tmp_path / "plain-english.gguf"
    assert TrainJob.from_json(job.to_json()) == job
    for bad in ({"name": "bad:name"}, {"name": " lead"}, {"rank": 0}, {"alpha": 0.0},
                {"targets": ("lm_head",)}, {"max_seq_len": 8}, {"format_regex": "("}):  # fmt: skip
        kwargs = {"name": "ok", "out_dir": tmp_path, **base, **bad}
        with pytest.raises(ValueError):
            TrainJob(**kwargs)  # type: ignore[arg-type]


def test_progress_line_has_step_loss_rate_and_eta() -> None:
    p = TrainProgress(
        "training", step=3, total_steps=40, loss=1.2346, examples_per_s=0.5, eta_s=190
    )
    assert p.line() == "step 3/40  loss 1.235  0.50 examples/s  ETA 3 min 10 s"
    assert TrainProgress.from_json(p.to_json()) == p
    assert TrainProgress("loading", message="loading x").line() == "loading x"
