"""A training job run from the window: in its own child process (desktop.train.process),
relayed to the GUI thread as signals by a QThread."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget

from desktop.cancel import CancelToken
from desktop.train.job import TrainJob, TrainProgress, TrainResult
from desktop.ui.qtcompat import emit
from desktop.ui.workers import JobThread

Trainer = Callable[..., TrainResult]  # train_adapter(job, on_progress=..., cancel=...)


def default_trainer(
    job: TrainJob,
    on_progress: Callable[[TrainProgress], None] | None = None,
    cancel: CancelToken | None = None,
) -> TrainResult:
    from desktop.train.process import train_adapter

    return train_adapter(job, on_progress=on_progress, cancel=cancel)


class TrainThread(JobThread):
    """Runs one training job (in its child process) and relays what happens as signals."""

    progressed = Signal(TrainProgress)
    succeeded = Signal(TrainResult)

    def __init__(self, job: TrainJob, trainer: Trainer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.trainer = trainer

    def work(self) -> None:
        result = self.trainer(
            self.job, on_progress=lambda p: emit(self.progressed, p), cancel=self.cancel_token
        )
        emit(self.succeeded, result)
