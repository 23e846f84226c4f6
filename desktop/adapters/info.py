"""Frozen descriptions of LoRA adapters and of their fit with a model."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

SOURCES = ("bundled", "user", "file")
MAX_SCALE = 2.0


@dataclass(frozen=True)
class AdapterInfo:
    """A LoRA adapter file and what its header says about it.

    Args:
        name: what the user types (`--adapter NAME`) and the dropdown shows; no colon.
        description: one line for people.
        path: the GGUF file.
        base_model: the model it was trained on, as its author named it ("" if unknown).
        architecture: `general.architecture` of the adapter ("" if unreadable).
        rank: LoRA rank (the largest, if tensors differ; 0 if unreadable).
        alpha: `adapter.lora.alpha` (0: llama.cpp then applies the scale as is).
        size_bytes: file size.
        targets: base tensors the adapter modifies.
        source: "bundled" (shipped in models/adapters), "user" or "file" (given by path).
        problem: why the file cannot be read at all ("" when its header is readable).
        format_regex: the form its sidecar declares every answer has ("": none declared;
            desktop.rag.shape keeps answers in it).
    """

    name: str
    description: str
    path: Path
    base_model: str
    architecture: str
    rank: int
    alpha: float
    size_bytes: int
    targets: tuple[str, ...] = ()
    source: str = "file"
    problem: str = ""
    dtypes: tuple[str, ...] = field(default=())
    format_regex: str = ""

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip():
            raise ValueError(f"adapter name must be non-empty without outer spaces: {self.name!r}")
        if ":" in self.name or any(ord(c) < 32 for c in self.name):
            raise ValueError(
                f"adapter name must not contain ':' or control characters: {self.name!r}"
            )
        if not isinstance(self.path, Path):
            object.__setattr__(self, "path", Path(self.path))
        if self.rank < 0:
            raise ValueError(f"adapter rank must be >= 0, got {self.rank}")
        if not math.isfinite(self.alpha):
            raise ValueError(f"adapter alpha must be a finite number, got {self.alpha}")
        if self.size_bytes < 0:
            raise ValueError(f"adapter size must be >= 0, got {self.size_bytes}")
        if self.source not in SOURCES:
            raise ValueError(f"adapter source must be one of {SOURCES}, got {self.source!r}")
        if not self.problem and (self.rank == 0 or not self.architecture):
            raise ValueError("a readable adapter needs a rank and an architecture")

    @property
    def readable(self) -> bool:
        return not self.problem

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "description": self.description,
            "path": str(self.path),
            "base_model": self.base_model,
            "architecture": self.architecture,
            "rank": self.rank,
            "alpha": self.alpha,
            "size_bytes": self.size_bytes,
            "targets": len(self.targets),
            "dtypes": list(self.dtypes),
            "source": self.source,
            "format_regex": self.format_regex,
        }


@dataclass(frozen=True)
class Compatibility:
    """Whether an adapter can be applied to a model, and why (a sentence for people)."""

    ok: bool
    reason: str

    def __post_init__(self) -> None:
        if not self.reason:
            raise ValueError("a compatibility verdict needs a reason")


def check_scale(scale: float, name: str) -> float:
    """A scale as a float in [0, MAX_SCALE]; raises ValueError with a readable message."""
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale for adapter '{name}' must be a number, got {scale!r}") from None
    if not math.isfinite(value) or not 0.0 <= value <= MAX_SCALE:
        raise ValueError(
            f"scale for adapter '{name}' must be between 0 and {MAX_SCALE:g}, got {scale!r}"
        )
    return value
