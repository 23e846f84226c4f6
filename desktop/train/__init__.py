"""Teach Folio a style: train a LoRA adapter from examples and install it as a GGUF.

The pipeline: check the examples (`examples`), load the chat model's own GGUF into
transformers (`hf_base`), encode conversations with loss on the assistant tokens only
(`dataset`), train a PEFT LoRA (`loop`), export it for llama.cpp (`export`), prove the
export faithful against PEFT (`parity`), and install it atomically (`runner`), all in a
child process (`process`). torch, transformers and peft are the optional `[train]` extra:
nothing here imports them until training starts.
"""

from __future__ import annotations

from desktop.train.errors import (
    INSTALL_HINT,
    ExamplesError,
    TrainingError,
    TrainingUnavailable,
)
from desktop.train.hf_base import missing_dependency, require_training
from desktop.train.job import TrainJob, TrainProgress, TrainResult

__all__ = [
    "INSTALL_HINT",
    "ExamplesError",
    "TrainJob",
    "TrainProgress",
    "TrainResult",
    "TrainingError",
    "TrainingUnavailable",
    "missing_dependency",
    "require_training",
]
