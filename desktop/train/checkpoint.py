"""Checkpoints of a running training job, so a stopped run continues where it was.

Laptops sleep and jobs get killed. Every few steps the loop saves what it needs to go on
exactly as if it had never stopped: the LoRA weights, the optimizer's state, the step
reached and the losses so far. Batches are a pure function of the seed and the epoch, so a
resumed run skips the batches already taken and takes the same ones after: no step is
repeated and the loss curve is the same.

The checkpoint sits beside the destination as `.NAME.checkpoint/`, written atomically (a
temporary file renamed over the old one), and carries a fingerprint of everything that
decides the run (the examples' bytes, the settings, the base model), so it is never
resumed under other settings. It is removed once the adapter is installed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from desktop import atomic
from desktop.models.verify import sha256_file
from desktop.train.errors import TrainingError
from desktop.train.sidecar import read_table

if TYPE_CHECKING:
    from desktop.train.job import TrainJob

STATE_FILE = "state.pt"
INFO_FILE = "checkpoint.json"
# Settings that do not change what is computed, so a run may resume with other values.
_FREE = (
    "overwrite", "threads", "command", "cache_dir", "parity", "description", "resume",
    "restart", "checkpoint_every",
)  # fmt: skip


@dataclass
class Progress:
    """Where a run stands: steps taken, and each step's loss and wall time."""

    step: int = 0
    losses: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def checkpoint_dir(job: TrainJob) -> Path:
    return job.out_dir / f".{job.name}.checkpoint"


def fingerprint(job: TrainJob) -> str:
    """What decides the run's steps: the examples' bytes, the base model, the settings."""
    settings = {k: v for k, v in job.to_json().items() if k not in _FREE}
    settings["examples"] = sha256_file(job.examples)
    settings["model_path"] = Path(job.model_path).name
    settings["out_dir"] = ""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def describe(job: TrainJob) -> dict[str, object] | None:
    """The saved checkpoint's info (step, total steps, fingerprint), or None if none."""
    return read_table(checkpoint_dir(job) / INFO_FILE, json.loads, "checkpoint") or None


def check_start(job: TrainJob) -> bool:
    """Whether this job resumes a checkpoint (True) or starts afresh (False).

    Raises:
        TrainingError: a stopped run exists and the job neither resumes nor restarts it,
            or the job resumes one made with other settings, or there is none to resume.
    """
    info = describe(job)
    if info is None:
        if job.resume:
            raise TrainingError(
                f"there is no stopped run of '{job.name}' to resume in {job.out_dir}; "
                "run the command without --resume"
            )
        return False
    where = f"step {info.get('step')} of {info.get('total_steps')}"
    if not job.resume:
        if job.restart:
            clear(job)
            return False
        raise TrainingError(
            f"a stopped run of '{job.name}' was saved at {where}; add --resume to continue "
            "it, or --restart to start over"
        )
    if info.get("fingerprint") != fingerprint(job):
        raise TrainingError(
            f"the stopped run of '{job.name}' ({where}) used other examples or settings, so "
            "it cannot be resumed with these; repeat its own command with --resume, or use "
            "--restart"
        )
    return True


def save(
    job: TrainJob,
    progress: Progress,
    total_steps: int,
    state: dict[str, object],
    fingerprint: str,
) -> None:
    """Write the run's state atomically (torch.save to a temporary file, then rename), with
    `fingerprint` (see `fingerprint()`, computed once per run by the caller)."""
    import torch

    folder = checkpoint_dir(job)
    for stale in atomic.leftovers(folder / STATE_FILE):  # a save killed mid-way (one trainer a job)
        stale.unlink(missing_ok=True)
    with atomic.replacing(folder / STATE_FILE) as tmp:
        torch.save(
            {
                **state,
                "step": progress.step,
                "losses": progress.losses,
                "seconds": progress.seconds,
            },
            tmp,
        )
    info = {"step": progress.step, "total_steps": total_steps, "fingerprint": fingerprint}
    atomic.write_text(folder / INFO_FILE, json.dumps(info) + "\n")


def load(job: TrainJob) -> tuple[Progress, dict[str, object]]:
    """The saved progress and the rest of the state (weights, optimizer).

    Raises:
        TrainingError: the checkpoint cannot be read.
    """
    import torch

    try:
        state = torch.load(checkpoint_dir(job) / STATE_FILE, weights_only=True, map_location="cpu")
    except (OSError, RuntimeError, EOFError) as exc:
        raise TrainingError(
            f"the saved run of '{job.name}' cannot be read ({exc}); use --restart"
        ) from None
    progress = Progress(
        int(state.pop("step")), list(state.pop("losses")), list(state.pop("seconds"))
    )
    return progress, state


def clear(job: TrainJob) -> None:
    shutil.rmtree(checkpoint_dir(job), ignore_errors=True)
