"""The Teach a style… dialog: progress and ETA, cancel, failures without tracebacks, no
training add-on, and (in the real window) the new style appearing in the Style dropdown.

The trainer here is a deterministic stand-in with the real one's signature; the real
training path (child process, export, parity) is tested in test_train_cli and
test_train_real.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from desktop.adapters.synth import write_lora
from desktop.cancel import CancelToken
from desktop.config import Config
from desktop.errors import Cancelled
from desktop.paths import Locations
from desktop.session import Session
from desktop.settings import Settings
from desktop.train import sidecar
from desktop.train.errors import TrainingError
from desktop.train.job import TrainJob, TrainProgress, TrainResult
from desktop.ui import teach_dialog
from desktop.ui.teach_dialog import TeachDialog

EXAMPLES = (
    "Q: What is the notice period?\nA: - Thirty days [1]\n\nQ: Who pays?\nA: - The tenant [2]"
)


def fake_trainer(model_path: Path, steps: int = 3) -> Callable[..., TrainResult]:
    """Reports phases and steps like the real trainer, then writes a (random) adapter."""

    def train(
        job: TrainJob,
        on_progress: Callable[[TrainProgress], None] | None = None,
        cancel: CancelToken | None = None,
    ) -> TrainResult:
        say = on_progress or (lambda _p: None)
        say(TrainProgress("loading", message="loading"))
        for step in range(1, steps + 1):
            say(TrainProgress("training", step, steps, 2.0 / step, 1.5, 30.0 * (steps - step)))
        write_lora(model_path, job.adapter_path, name=job.name, description=job.description)
        return TrainResult(job.adapter_path, job.name, steps, 2, 9.0, 3.0, 0.7)

    return train


def _fill(dialog: TeachDialog, name: str = "tenancy") -> None:
    dialog.pasted.setPlainText(EXAMPLES)
    dialog.name_edit.setText(name)
    dialog.description_edit.setText("Short tenancy answers")


def test_training_reports_progress_and_finishes(
    qtbot: Any, chat_model_path: Path, tmp_path: Path
) -> None:
    seen: list[str] = []
    dialog = TeachDialog(chat_model_path, tmp_path, trainer=fake_trainer(chat_model_path))
    qtbot.addWidget(dialog)
    _fill(dialog)
    shown = dialog._on_progress

    def spy(p: TrainProgress) -> None:  # what the status line said after each report
        shown(p)
        seen.append(dialog.status.text())

    dialog._on_progress = spy  # type: ignore[method-assign]
    with qtbot.waitSignal(dialog.trained, timeout=60_000) as done:
        dialog.train_button.click()
    assert done.args == ["tenancy"]
    assert "Training: step 1 of 3 · loss 2.00 · about 1 min 00 s left" in seen
    assert dialog.status.text().startswith("Done: 'tenancy' is ready under Style")
    assert dialog.progress.value() == 1000 and dialog.error.isHidden()
    saved = tmp_path / "training" / "tenancy.examples.jsonl"  # the pasted examples, as JSONL
    assert [json.loads(x)["messages"][0]["content"] for x in saved.read_text().splitlines()] == [
        "What is the notice period?",
        "Who pays?",
    ]
    assert not dialog.train_button.isHidden() and dialog.cancel_button.isHidden()


def test_bad_input_is_explained_before_training(
    qtbot: Any, chat_model_path: Path, tmp_path: Path
) -> None:
    dialog = TeachDialog(chat_model_path, tmp_path, trainer=fake_trainer(chat_model_path))
    qtbot.addWidget(dialog)
    dialog.pasted.setPlainText("Q: a question without an answer")
    dialog.name_edit.setText("x")
    dialog.train_button.click()
    assert "line 1: this question has no 'A:' answer" in dialog.error.text()
    dialog.pasted.setPlainText(EXAMPLES)
    dialog.name_edit.setText("bad:name")
    dialog.train_button.click()
    assert "style name 'bad:name' must start with a letter" in dialog.error.text()
    assert dialog.thread_ is None


def test_cancel_stops_training(qtbot: Any, chat_model_path: Path, tmp_path: Path) -> None:
    def endless(job: TrainJob, on_progress: Any = None, cancel: Any = None) -> TrainResult:
        step = 0
        while not cancel.cancelled:
            step += 1
            on_progress(TrainProgress("training", step, 10**6, 1.0, 1.0, 99.0))
            cancel._cancelled.wait(0.01)
        raise Cancelled("training cancelled")

    dialog = TeachDialog(chat_model_path, tmp_path, trainer=endless)
    qtbot.addWidget(dialog)
    _fill(dialog)
    dialog.train_button.click()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Training: step"), timeout=60_000)
    assert not dialog.cancel_button.isHidden() and not dialog.close_button.isEnabled()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running, timeout=60_000)
    assert dialog.status.text() == "Training cancelled; nothing was saved."
    assert not (tmp_path / "tenancy.gguf").exists()


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            TrainingError("the examples teach nothing"),
            "Training failed: The examples teach nothing",
        ),
        (
            RuntimeError("boom"),
            "Training failed: Something went wrong inside Folio (RuntimeError: boom)",
        ),
    ],
)
def test_a_failure_shows_its_reason_not_a_traceback(
    qtbot: Any, chat_model_path: Path, tmp_path: Path, error: Exception, shown: str
) -> None:
    def failing(job: TrainJob, **_kw: Any) -> TrainResult:
        raise error

    dialog = TeachDialog(chat_model_path, tmp_path, trainer=failing)
    qtbot.addWidget(dialog)
    _fill(dialog)
    dialog.train_button.click()
    qtbot.waitUntil(lambda: not dialog.error.isHidden(), timeout=60_000)
    assert dialog.error.text().startswith(shown)
    assert "Traceback" not in dialog.error.text()
    assert dialog.train_button.isEnabled()


def test_without_the_training_add_on_it_says_how_to_install_it(
    qtbot: Any, chat_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(teach_dialog, "missing_dependency", lambda: "torch")
    dialog = TeachDialog(chat_model_path, tmp_path)
    qtbot.addWidget(dialog)
    text = dialog.error.text()
    assert "needs the training add-on" in text and "torch is missing" in text
    assert "pip install -e '.[train]'" in text
    assert not dialog.train_button.isEnabled()


@pytest.mark.slow
def test_a_trained_style_appears_in_the_dropdown_with_its_measured_effect(
    qtbot: Any, chat_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop.ui.main_window import MainWindow

    monkeypatch.setattr(teach_dialog, "default_trainer", fake_trainer(chat_model_path))
    settings = Settings(max_answer_tokens=24, k=3)
    w = MainWindow(Session(Config.resolve(settings, Locations.from_environment())))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: bool(w.model_info), timeout=120_000)
    qtbot.waitUntil(lambda: w.model_bar.adapter_model.rowCount() >= 1, timeout=30_000)
    assert "tenancy" not in {r["name"] for r in w.adapter_rows}

    w.named_actions["teach"].trigger()
    dialog = w.findChildren(TeachDialog)[-1]
    _fill(dialog)
    dialog.train_button.click()
    qtbot.waitUntil(lambda: "tenancy" in {r["name"] for r in w.adapter_rows}, timeout=60_000)
    model = w.model_bar.adapter_model
    items = {model.item(r).text(): model.item(r) for r in range(model.rowCount())}
    assert items["tenancy"].isEnabled()
    assert items["tenancy"].toolTip().startswith("Short tenancy answers")

    adapter = Locations.from_environment().user_adapters_dir / "tenancy.gguf"
    sidecar.write_eval(
        adapter,
        {"summary": "format compliance 99.5% against 41.0% without"},
        Locations.from_environment().user_adapters_dir,
    )
    w.refresh_adapters()
    qtbot.waitUntil(
        lambda: (
            "Measured: format compliance 99.5%"
            in w.model_bar.adapter_model.item(
                w.model_bar.adapter_combo.findText("tenancy")
            ).toolTip()
        ),
        timeout=30_000,
    )
    dialog.close()
    w.close()
