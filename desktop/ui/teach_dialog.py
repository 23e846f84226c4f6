"""The "Teach a style…" dialog: examples in, a trained style adapter out.

For people who have never seen a JSONL file: paste questions and answers as plain
`Q:` / `A:` lines, or pick an examples file; name the style; train. Training runs in its
own process (desktop.train.process); a thread here only relays its progress, so the
window stays responsive and torch's memory is returned when the run ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.durations import format_duration, time_left
from desktop.errors import FolioError
from desktop.train import checkpoint
from desktop.train.errors import INSTALL_COMMAND
from desktop.train.examples import load_examples, parse_pasted, write_jsonl
from desktop.train.hf_base import missing_dependency
from desktop.train.job import TrainJob, TrainProgress, TrainResult, check_name
from desktop.ui.qtcompat import emit
from desktop.ui.train_thread import Trainer, TrainThread, default_trainer

if TYPE_CHECKING:
    from desktop.session import Session

log = logging.getLogger(__name__)

PLACEHOLDER = (
    "Q: What does the lease say about pets?\n"
    "A: - Pets need the landlord's written consent [1]\n\n"
    "Q: When is the rent due?\n"
    "A: - On the first day of each month [2]"
)
PHASE_TEXT = {
    "checking": "Checking the examples…",
    "loading": "Loading the model for training (about a minute)…",
    "encoding": "Preparing the examples…",
    "exporting": "Saving the style…",
    "verifying": "Checking the saved style against the trained one…",
}


class TeachDialog(QDialog):
    """Collects examples and a name, trains, and reports `trained(name)` when done."""

    trained = Signal(str)  # name of the new adapter

    def __init__(
        self,
        model_path: Path | None,
        out_dir: Path,
        parent: QWidget | None = None,
        trainer: Trainer | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Teach a style")
        self.setMinimumWidth(560)
        self.model_path = model_path
        self.trainer = trainer or default_trainer
        self.out_dir = out_dir
        self.cache_dir = cache_dir
        self.thread_: TrainThread | None = None
        self.missing = missing_dependency() if trainer is None else ""
        self._build()
        self._update_source()

    def _build(self) -> None:
        intro = QLabel(
            "Show Folio a few questions with the answers you would like, written in the "
            "style you want. Folio trains a small add-on (a style adapter) for the current "
            "model; it then appears under Style."
        )
        intro.setWordWrap(True)
        self.paste_choice = QRadioButton("Type or paste examples")
        self.file_choice = QRadioButton("Use an examples file (.jsonl)")
        self.paste_choice.setChecked(True)
        group = QButtonGroup(self)
        for choice in (self.paste_choice, self.file_choice):
            group.addButton(choice)
            choice.toggled.connect(self._update_source)
        self.pasted = QPlainTextEdit()
        self.pasted.setPlaceholderText(PLACEHOLDER)
        self.pasted.setMinimumHeight(150)
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("examples.jsonl")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(self.browse)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("for example: plain-english")
        self.description_edit = QLineEdit()
        self.description_edit.setPlaceholderText("one line, shown when you point at the style")
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 20)
        self.epochs.setValue(3)
        self.epochs.setSuffix(" passes")
        self.epochs.setToolTip("How many times training goes over your examples")
        form = QFormLayout()
        form.addRow("Style name", self.name_edit)
        form.addRow("Description", self.description_edit)
        form.addRow("Training", self.epochs)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("Muted")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b3261e;")
        self.error.setVisible(False)
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.train_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.cancel_button, self.train_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.paste_choice)
        layout.addWidget(self.pasted)
        layout.addWidget(self.file_choice)
        layout.addLayout(file_row)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        if self.missing:
            self.show_error(
                "Training a style needs the training add-on, which this copy of Folio does "
                f"not have ({self.missing} is missing). To add it, {INSTALL_COMMAND}."
            )
            self.train_button.setEnabled(False)
        elif self.model_path is None:
            self.show_error("Load a chat model first: a style is trained for one model.")
            self.train_button.setEnabled(False)

    # -- input -----------------------------------------------------------------------------
    def _update_source(self) -> None:
        pasting = self.paste_choice.isChecked()
        self.pasted.setEnabled(pasting)
        self.file_edit.setEnabled(not pasting)
        self.browse.setEnabled(not pasting)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Examples file", str(Path.home()), "JSON Lines (*.jsonl *.json);;All files (*)"
        )
        if path:
            self.file_edit.setText(path)
            self.file_choice.setChecked(True)

    def make_job(self) -> TrainJob:
        """The job the form describes (pasted examples are saved as JSONL first).

        Raises:
            FolioError: a missing or bad name, bad examples (with line numbers), no model.
        """
        if self.model_path is None:
            raise FolioError("no chat model is loaded")
        name = self.name_edit.text().strip()
        try:
            check_name(name)
        except ValueError as exc:
            raise FolioError(str(exc).replace(repr(name), f"'{name}'")) from None
        if self.paste_choice.isChecked():
            examples = parse_pasted(self.pasted.toPlainText())
            source = write_jsonl(examples, self.out_dir / "training" / f"{name}.examples.jsonl")
        else:
            text = self.file_edit.text().strip()
            if not text:
                raise FolioError("choose an examples file, or paste examples")
            source = Path(text).expanduser()
            load_examples(source)  # line-numbered errors now, not after the model loads
        return TrainJob(
            examples=source,
            name=name,
            model_path=self.model_path,
            out_dir=self.out_dir,
            epochs=float(self.epochs.value()),
            description=self.description_edit.text().strip(),
            overwrite=True,
            command="Teach a style (window)",
            cache_dir=self.cache_dir,
        )

    # -- running ---------------------------------------------------------------------------
    def start(self) -> None:
        """Check the form, then train in the background."""
        self.error.setVisible(False)
        try:
            job = self.make_job()
        except (FolioError, ValueError) as exc:
            self.show_error(str(exc))
            return
        job = self._continue_or_restart(job)
        thread = TrainThread(job, self.trainer, self)
        thread.progressed.connect(self._on_progress)
        thread.succeeded.connect(self._on_succeeded)
        thread.failed.connect(self._on_failed)
        thread.cancelled.connect(self._on_cancelled)
        self.thread_ = thread
        self._set_running(True)
        self.status.setText("Starting…")
        thread.start()

    def _continue_or_restart(self, job: TrainJob) -> TrainJob:
        """A stopped run of the same style and examples is continued if the user wants;
        one made from other examples or settings is replaced."""
        saved = checkpoint.describe(job)
        if saved is None:
            return job
        if saved.get("fingerprint") == checkpoint.fingerprint(job) and self.ask_resume(
            int(str(saved.get("step", 0))), int(str(saved.get("total_steps", 0)))
        ):
            return replace(job, resume=True)
        return replace(job, restart=True)

    def ask_resume(self, step: int, total: int) -> bool:
        """Whether to continue a stopped run (a question box; tests replace it)."""
        answer = QMessageBox.question(
            self,
            "Continue training?",
            f"Training this style stopped at step {step} of {total}. Continue from there? "
            "(No starts over.)",
        )
        return answer == QMessageBox.StandardButton.Yes

    def cancel(self) -> None:
        if self.thread_ is not None:
            self.thread_.cancel_token.cancel()
            self.status.setText("Cancelling…")
            self.cancel_button.setEnabled(False)

    def _set_running(self, running: bool) -> None:
        inputs: list[QWidget] = [self.pasted, self.file_edit, self.browse, self.name_edit]
        inputs += [self.description_edit, self.epochs, self.paste_choice, self.file_choice]
        for w in inputs:
            w.setEnabled(not running)
        self.train_button.setVisible(not running)
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(running)
        self.close_button.setEnabled(not running)
        self.progress.setVisible(running)
        if running:
            self.progress.setRange(0, 0)  # busy until the first step
        else:
            self._update_source()

    def _on_progress(self, p: TrainProgress) -> None:
        if p.phase == "training" and p.total_steps and not p.message:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * p.fraction))
            loss = f" · loss {p.loss:.2f}" if p.loss is not None else ""
            self.status.setText(
                f"Training: step {p.step} of {p.total_steps}{loss} · {time_left(p.eta_s)}"
            )
        elif p.message.startswith("warning: "):
            self.status.setText(p.message[len("warning: ") :].capitalize())
        else:
            self.status.setText(PHASE_TEXT.get(p.phase, p.message or p.phase))

    def _on_succeeded(self, result: TrainResult) -> None:
        self._finish()
        self.progress.setVisible(True)
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self.status.setText(
            f"Done: '{result.name}' is ready under Style "
            f"({result.steps} steps in {format_duration(result.seconds)})."
        )
        emit(self.trained, result.name)

    def _on_failed(self, message: str) -> None:
        self._finish()
        self.status.setText("")
        self.show_error(f"Training failed: {message}")

    def _on_cancelled(self) -> None:
        self._finish()
        self.status.setText("Training cancelled; nothing was saved.")

    def _finish(self) -> None:
        thread, self.thread_ = self.thread_, None
        if thread is not None:
            thread.wait()
            thread.deleteLater()
        self._set_running(False)

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)

    @property
    def running(self) -> bool:
        return self.thread_ is not None

    def reject(self) -> None:
        if self.running:
            return  # Cancel training first; closing mid-run would orphan the child
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.running:
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)


def open_teach_dialog(
    parent: QWidget, session: Session, model_info: Mapping[str, object], trained: Callable[[], None]
) -> TeachDialog:
    """Show the dialog for the loaded chat model (`model_info`, as the chat worker reports
    it; the installed default if none is loaded); `trained` runs when a style is saved."""
    model_path: Path | None = None
    path = model_info.get("path")
    if path:
        model_path = Path(str(path))
    else:
        try:
            from desktop.models.installed import require_local

            spec = session.model_spec("chat")
            model_path = require_local(spec, session.locations.models_search_path)
        except FolioError as exc:
            log.info("no chat model for training: %s", exc)
    dialog = TeachDialog(
        model_path,
        session.locations.user_adapters_dir,
        parent,
        cache_dir=session.locations.cache_dir,
    )
    dialog.trained.connect(lambda _name: trained())
    dialog.show()
    return dialog
