"""Run a training job in its own process and relay its progress to callbacks.

Training holds gigabytes in torch; in a child process that memory goes back to the system
when the job ends, and the GUI's own process stays responsive. The child reports through
a queue (progress, then exactly one of done / failed / cancelled); the parent polls the
cancel token and the child's liveness, so a crash or a kill becomes a clear error. The
staging folder is made here and removed here, whatever happens to the child.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import shutil
import time
import traceback
from collections.abc import Callable
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING, Literal, TypeAlias, TypedDict

from desktop.cancel import CancelToken
from desktop.errors import Cancelled, FolioError
from desktop.train.errors import ExamplesError, TrainingError
from desktop.train.examples import load_examples
from desktop.train.hf_base import require_training
from desktop.train.job import (
    TrainJob,
    TrainJobJSON,
    TrainProgress,
    TrainProgressJSON,
    TrainResult,
    TrainResultJSON,
)
from desktop.train.runner import check_destination, staging_dir

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue

log = logging.getLogger(__name__)

POLL_S = 0.2
CANCEL_GRACE_S = 5.0  # how long a cancelled child may take to stop by itself
_ERRORS: dict[str, type[FolioError]] = {
    "ExamplesError": ExamplesError,
    "TrainingUnavailable": TrainingError,
}


class Failure(TypedDict):
    """A FolioError in the child: its class name and message."""

    kind: str
    message: str


class Bug(TypedDict):
    """Another exception in the child (a bug), with its traceback for the log."""

    kind: str
    message: str
    trace: str


# What the child sends: progress any number of times, then exactly one of the others.
Message: TypeAlias = (
    tuple[Literal["progress"], TrainProgressJSON]
    | tuple[Literal["done"], TrainResultJSON]
    | tuple[Literal["cancelled"], None]
    | tuple[Literal["failed"], Failure]
    | tuple[Literal["bug"], Bug]
)


def _child(job_json: TrainJobJSON, events: Queue[Message], stop: Event, staging: str) -> None:
    """The child's entry point: run the job and send its outcome (never raises)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from pathlib import Path

    from desktop.train.hf_base import set_threads
    from desktop.train.runner import run_job

    parent = os.getppid()

    def should_stop() -> bool:
        # Stop when asked, and when the parent is gone (killed outright, nobody to report to).
        return stop.is_set() or os.getppid() != parent

    try:
        job = TrainJob.from_json(job_json)
        set_threads(job.threads)
        result = run_job(
            job,
            report=lambda p: events.put(("progress", p.to_json())),
            should_stop=should_stop,
            staging=Path(staging),
        )
    except Cancelled:
        events.put(("cancelled", None))
    except FolioError as exc:
        failure: Failure = {"kind": type(exc).__name__, "message": str(exc)}
        events.put(("failed", failure))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as a bug
        bug: Bug = {
            "kind": type(exc).__name__,
            "message": str(exc),
            "trace": traceback.format_exc(),
        }
        events.put(("bug", bug))
    else:
        events.put(("done", result.to_json()))


def train_adapter(
    job: TrainJob,
    on_progress: Callable[[TrainProgress], None] | None = None,
    cancel: CancelToken | None = None,
) -> TrainResult:
    """Train `job` in a child process; progress goes to `on_progress` in this process.

    The examples and the destination are checked here first, so mistakes show at once.

    Raises:
        TrainingUnavailable: the training add-on is not installed.
        ExamplesError: the examples are bad (with line numbers).
        TrainingError: training failed; the message says why (a bug's traceback is logged).
        Cancelled: `cancel` was set; nothing was installed.
    """
    require_training()
    load_examples(job.examples)
    check_destination(job)
    stage = staging_dir(job)
    ctx = multiprocessing.get_context("spawn")
    events: Queue[Message] = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(
        target=_child, args=(job.to_json(), events, stop, str(stage)), name="folio-train"
    )
    try:
        proc.start()
        return _relay(proc, events, stop, on_progress, cancel)
    finally:
        _end(proc, stop)
        shutil.rmtree(stage, ignore_errors=True)


def _relay(
    proc: BaseProcess,
    events: Queue[Message],
    stop: Event,
    on_progress: Callable[[TrainProgress], None] | None,
    cancel: CancelToken | None,
) -> TrainResult:
    cancelled_at: float | None = None
    while True:
        if cancel is not None and cancel.cancelled and cancelled_at is None:
            stop.set()
            cancelled_at = time.monotonic()
        if cancelled_at is not None and time.monotonic() - cancelled_at > CANCEL_GRACE_S:
            raise Cancelled("training cancelled")
        try:
            message = events.get(timeout=POLL_S)
        except queue.Empty:
            if not proc.is_alive():
                if cancelled_at is not None:
                    raise Cancelled("training cancelled") from None
                raise TrainingError(
                    f"the training process stopped unexpectedly (exit code {proc.exitcode}); "
                    "it may have run out of memory"
                ) from None
            continue
        if message[0] == "progress":
            if on_progress is not None and cancelled_at is None:
                on_progress(TrainProgress.from_json(message[1]))
        elif message[0] == "done":
            return TrainResult.from_json(message[1])
        elif message[0] == "cancelled":
            raise Cancelled("training cancelled")
        elif message[0] == "failed":
            failure = message[1]
            raise _ERRORS.get(failure["kind"], TrainingError)(failure["message"])
        elif message[0] == "bug":
            bug = message[1]
            log.error("training failed in the child process:\n%s", bug["trace"])
            raise TrainingError(
                f"training failed inside Folio ({bug['kind']}: {bug['message']}); "
                "the details are in the log"
            )


def _end(proc: BaseProcess, stop: Event) -> None:
    """Stop the child if it still runs: ask, then terminate, then kill."""
    if proc.pid is None:
        return
    stop.set()
    proc.join(timeout=CANCEL_GRACE_S)
    if proc.is_alive():
        proc.terminate()
        proc.join(timeout=5)
    if proc.is_alive():
        proc.kill()
        proc.join(timeout=5)
