"""`folio train-adapter` as a user runs it: training in its own process with progress on
stderr, line-numbered example errors, one line without the add-on, cancelling, and the
new adapter listed by `folio adapters list`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.cancel import CancelToken
from desktop.cli import main
from desktop.errors import Cancelled
from desktop.paths import Locations
from desktop.train import hf_base
from desktop.train.examples import Example, Message, write_jsonl
from desktop.train.job import TrainJob, TrainProgress


def _examples(tmp_path: Path) -> Path:
    return write_jsonl(
        [
            Example((Message("user", f"Say {w}."), Message("assistant", f"- {w} [1]")))
            for w in ("hello", "goodbye", "thanks", "sorry")
        ],
        tmp_path / "ex.jsonl",
    )


def test_bad_examples_fail_at_once_with_line_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "ok", "response": "ok"}\n{"prompt": "no response"}\n')
    assert main(["train-adapter", "--examples", str(bad), "--name", "x"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'folio: error: {bad}: line 2: missing "response"']


def test_without_the_add_on_one_line_says_how_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hf_base, "missing_dependency", lambda: "torch")
    code = main(["train-adapter", "--examples", str(_examples(tmp_path)), "--name", "x"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "needs the training add-on" in err[0] and "pip install -e '.[train]'" in err[0]


def test_bad_settings_and_names_are_user_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ex = str(_examples(tmp_path))
    assert main(["train-adapter", "--examples", ex, "--name", "a:b"]) == 1
    assert "style name 'a:b'" in capsys.readouterr().err
    assert main(["train-adapter", "--examples", ex, "--name", "ok", "--rank", "0"]) == 1
    assert "rank must be between 1 and 256" in capsys.readouterr().err


@pytest.mark.slow
def test_cancel_stops_the_child_and_installs_nothing(tmp_path: Path, chat_model_path: Path) -> None:
    from desktop.train.process import train_adapter

    out = tmp_path / "adapters"
    job = TrainJob(
        examples=_examples(tmp_path),
        name="never",
        model_path=chat_model_path,
        out_dir=out,
        max_seq_len=32,
    )
    cancel = CancelToken()
    phases: list[str] = []

    def on_progress(p: TrainProgress) -> None:
        phases.append(p.phase)
        cancel.cancel()  # as soon as the child reports anything

    with pytest.raises(Cancelled):
        train_adapter(job, on_progress=on_progress, cancel=cancel)
    assert phases and phases[0] == "checking"
    assert list(out.iterdir()) == []  # no adapter, no staging folder


@pytest.mark.slow
def test_train_adapter_end_to_end(
    tmp_path: Path, chat_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "train-adapter", "--examples", str(_examples(tmp_path)), "--name", "greeter",
        "--epochs", "2", "--batch-size", "2", "--max-seq-len", "40", "--lr", "3e-3",
        "--description", "Greets in bullets",
    ]  # fmt: skip
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "loading SmolLM2-135M-Instruct.Q4_1.gguf into transformers" in captured.err
    assert "step 4/4  loss " in captured.err and "examples/s  ETA" in captured.err
    assert "trained 'greeter': 4 steps" in captured.out
    assert "parity PASS" in captured.out
    path = Locations.from_environment().user_adapters_dir / "greeter.gguf"
    assert path.is_file()

    assert main(["adapters", "list", "--json"]) == 0
    listed = {a["name"]: a for a in json.loads(capsys.readouterr().out)["adapters"]}
    assert listed["greeter"]["compatible"] is True
    assert listed["greeter"]["description"] == "Greets in bullets"
    assert listed["greeter"]["source"] == "user"

    # The same name again is refused unless replacing is asked for.
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err


def test_parity_needs_the_trained_weights(
    chat_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop.adapters.synth import write_lora

    write_lora(
        chat_model_path,
        Locations.from_environment().user_adapters_dir / "random.gguf",
        name="random",
    )
    assert main(["adapters", "parity", "random"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no trained weights beside it (random.peft/)" in err[0]
