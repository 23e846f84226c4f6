"""Frozen descriptions of a training job, its progress and its result (JSON both ways).

They cross a process boundary (the training runs in its own process), so each has
`to_json` and `from_json` of plain types only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from desktop.durations import format_duration
from desktop.json_types import JSONRecord, known_fields
from desktop.ranges import Range, check_ranges
from desktop.train.compute import PRECISIONS

# Adapter names become file names and dropdown labels; llama.cpp never sees them.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
# Hugging Face module names of a llama-architecture block, by kind.
ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
TARGETS = ATTENTION + MLP
RANGES = {
    "rank": Range(1, 256, "rank"),
    "max_seq_len": Range(16, 8192, "max sequence length", " tokens"),
    "batch_size": Range(1, 256, "batch size"),
}


class TrainJobJSON(TypedDict):
    """A TrainJob as JSON: its fields, paths as text and targets as a list."""

    examples: str
    name: str
    model_path: str
    out_dir: str
    rank: int
    alpha: float
    epochs: float
    lr: float
    max_steps: int
    max_seq_len: int
    batch_size: int
    targets: list[str]
    seed: int
    description: str
    format_regex: str
    parity: bool
    overwrite: bool
    threads: int
    base_model_id: str
    command: str
    cache_dir: str  # "" for none
    layers: int
    resume: bool
    restart: bool
    checkpoint_every: int
    precision: str


class TrainProgressJSON(TypedDict):
    """A TrainProgress as JSON (its fields as they are)."""

    phase: str
    step: int
    total_steps: int
    loss: float | None
    examples_per_s: float
    eta_s: float | None
    elapsed_s: float
    message: str


class ParityJSON(TypedDict, total=False):
    """desktop.train.parity.ParityReport as JSON; empty when the check did not run."""

    prompts: int
    positions: int
    adapter_agreement: float
    adapter_kl: float
    base_agreement: float
    base_kl: float
    passed: bool


class TrainResultJSON(TypedDict):
    """A TrainResult as JSON: the adapter's path as text, the warnings as a list."""

    adapter_path: str
    name: str
    steps: int
    examples: int
    seconds: float
    seconds_per_step: float
    final_loss: float
    warnings: list[str]
    parity: ParityJSON
    losses: list[float]
    train_seconds: float
    examples_seen: int
    examples_per_hour: float
    compute: str


def check_name(name: str) -> str:
    """The name if it can name an adapter file; raises ValueError saying what to change."""
    if not NAME_RE.match(name or "") or name != name.strip():
        raise ValueError(
            f"style name {name!r} must start with a letter or digit and use only letters, "
            "digits, spaces, '.', '_' and '-' (64 characters at most)"
        )
    return name


@dataclass(frozen=True)
class TrainJob:
    """Everything one training run needs, checked on construction.

    Args:
        examples: the JSONL file of examples.
        name: the adapter's name (also its file name, NAME.gguf in `out_dir`).
        model_path: the base chat model's GGUF (transformers dequantizes it for training).
        out_dir: where NAME.gguf and its sidecars are written.
        rank, alpha: LoRA rank and alpha (the update is scaled by alpha / rank).
        epochs, max_steps: passes over the examples; max_steps > 0 stops earlier.
        lr: peak learning rate (linear warm-up, then cosine decay to a tenth).
        max_seq_len: longer examples are truncated (and counted in a warning).
        batch_size: sequences per optimizer step.
        targets: Hugging Face module names to adapt (see TARGETS).
        description: one line for the dropdown's tooltip.
        format_regex: the adapter's format validator for `folio eval adapter` ("" none).
        parity: check the export against PEFT on a few prompts after training.
        overwrite: replace an adapter of the same name in `out_dir`.
        threads: torch CPU threads (0: all cores).
        cache_dir: where measurements that outlive a run are kept (the parity check's
            base-to-base reference); None keeps them only for this process.
        layers: adapt only the top N transformer blocks (0: all). Nothing below the lowest
            adapted block needs gradients, so a step costs a forward pass there and no
            backward pass.
        resume: continue the stopped run saved beside the destination (same settings).
        restart: discard a stopped run of the same name and start over.
        checkpoint_every: save the run's state every N steps (0: never).
        precision: "float32" (the default), "bfloat16", or "auto" (bfloat16 where the
            device multiplies it natively; desktop.train.compute says why it is not the
            default yet). A CUDA GPU, when there is one, trains either way.
    """

    examples: Path
    name: str
    model_path: Path
    out_dir: Path
    rank: int = 8
    alpha: float = 16.0
    epochs: float = 1.0
    lr: float = 2e-4
    max_steps: int = 0
    max_seq_len: int = 512
    batch_size: int = 4
    targets: tuple[str, ...] = ATTENTION
    seed: int = 0
    description: str = ""
    format_regex: str = ""
    parity: bool = True
    overwrite: bool = False
    threads: int = 0
    base_model_id: str = ""
    command: str = ""  # the command line that started it, recorded with the adapter
    cache_dir: Path | None = None
    layers: int = 0
    resume: bool = False
    restart: bool = False
    checkpoint_every: int = 20
    precision: str = "float32"

    def __post_init__(self) -> None:
        if self.cache_dir is not None and not isinstance(self.cache_dir, Path):
            object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        for key in ("examples", "model_path", "out_dir"):
            value = getattr(self, key)
            if not isinstance(value, Path):
                object.__setattr__(self, key, Path(value))
        object.__setattr__(self, "targets", tuple(self.targets))
        check_name(self.name)
        check_ranges(self, RANGES)
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError("alpha must be a positive number")
        if not (math.isfinite(self.epochs) and self.epochs > 0):
            raise ValueError("epochs must be a positive number")
        if not (math.isfinite(self.lr) and 0 < self.lr < 1):
            raise ValueError("learning rate must be between 0 and 1")
        if self.max_steps < 0:
            raise ValueError("max steps must be 0 (no limit) or more")
        bad = [t for t in self.targets if t not in TARGETS]
        if bad or not self.targets:
            raise ValueError(f"targets must be among {', '.join(TARGETS)}; got {bad or 'none'}")
        if not 0 <= self.layers <= 1024:
            raise ValueError("layers must be 0 (all) or the number of top blocks to adapt")
        if self.checkpoint_every < 0:
            raise ValueError("checkpoint interval must be 0 (never) or more steps")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.resume and self.restart:
            raise ValueError("choose --resume or --restart, not both")
        if self.format_regex:
            try:
                re.compile(self.format_regex)
            except re.error as exc:
                raise ValueError(f"format regex does not compile: {exc}") from None

    @property
    def adapter_path(self) -> Path:
        return self.out_dir / f"{self.name}.gguf"

    def to_json(self) -> TrainJobJSON:
        return {
            "examples": str(self.examples),
            "name": self.name,
            "model_path": str(self.model_path),
            "out_dir": str(self.out_dir),
            "rank": self.rank,
            "alpha": self.alpha,
            "epochs": self.epochs,
            "lr": self.lr,
            "max_steps": self.max_steps,
            "max_seq_len": self.max_seq_len,
            "batch_size": self.batch_size,
            "targets": list(self.targets),
            "seed": self.seed,
            "description": self.description,
            "format_regex": self.format_regex,
            "parity": self.parity,
            "overwrite": self.overwrite,
            "threads": self.threads,
            "base_model_id": self.base_model_id,
            "command": self.command,
            "cache_dir": str(self.cache_dir) if self.cache_dir else "",
            "layers": self.layers,
            "resume": self.resume,
            "restart": self.restart,
            "checkpoint_every": self.checkpoint_every,
            "precision": self.precision,
        }

    @classmethod
    def from_json(cls, data: TrainJobJSON) -> TrainJob:
        """The job `to_json` wrote (__post_init__ turns paths and targets back)."""
        return cls(**{**known_fields(cls, data), "cache_dir": data["cache_dir"] or None})


PHASES = ("checking", "loading", "encoding", "training", "exporting", "verifying", "done")


@dataclass(frozen=True)
class TrainProgress(JSONRecord[TrainProgressJSON]):
    """One report from a running job: the phase, and within training the step figures."""

    json_type = TrainProgressJSON

    phase: str
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    examples_per_s: float = 0.0
    eta_s: float | None = None
    elapsed_s: float = 0.0
    message: str = ""  # a line for people: what is happening, or a warning

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}")

    @property
    def fraction(self) -> float:
        return self.step / self.total_steps if self.total_steps else 0.0

    def line(self) -> str:
        """One human line, as the CLI prints it on stderr."""
        if self.phase != "training" or self.message:
            return self.message or self.phase
        loss = f"loss {self.loss:.3f}" if self.loss is not None else "loss —"
        eta = f"ETA {format_duration(self.eta_s)}"
        return (
            f"step {self.step}/{self.total_steps}  {loss}  "
            f"{self.examples_per_s:.2f} examples/s  {eta}"
        )


@dataclass(frozen=True)
class TrainResult:
    """What a finished job produced and how long it took."""

    adapter_path: Path
    name: str
    steps: int
    examples: int
    seconds: float
    seconds_per_step: float  # median over the steps
    final_loss: float
    warnings: tuple[str, ...] = ()
    parity: ParityJSON = field(default_factory=ParityJSON)
    losses: tuple[float, ...] = ()  # every step's loss, resumed runs included
    train_seconds: float = 0.0  # the optimizer steps' own time, summed over every run
    examples_seen: int = 0  # sequences trained on over all steps (an example per epoch)
    compute: str = ""  # where and in what precision it trained ("cpu, bfloat16")

    def __post_init__(self) -> None:
        # Built from JSON too: the path comes as text and the sequences as lists.
        object.__setattr__(self, "adapter_path", Path(self.adapter_path))
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "losses", tuple(self.losses))
        object.__setattr__(self, "parity", ParityJSON(**self.parity))

    @property
    def examples_per_hour(self) -> float:
        if not self.train_seconds:
            return 0.0
        return 3600 * self.examples_seen / self.train_seconds

    def to_json(self) -> TrainResultJSON:
        return {
            "adapter_path": str(self.adapter_path),
            "name": self.name,
            "steps": self.steps,
            "examples": self.examples,
            "seconds": self.seconds,
            "seconds_per_step": self.seconds_per_step,
            "final_loss": self.final_loss,
            "warnings": list(self.warnings),
            "parity": self.parity.copy(),
            "losses": [round(x, 5) for x in self.losses],
            "train_seconds": self.train_seconds,
            "examples_seen": self.examples_seen,
            "examples_per_hour": round(self.examples_per_hour, 1),
            "compute": self.compute,
        }

    @classmethod
    def from_json(cls, data: TrainResultJSON) -> TrainResult:
        """The result `to_json` wrote (`examples_per_hour` is worked out again, not read)."""
        return cls(**known_fields(cls, data))
