"""Load the installed chat model's GGUF into transformers, dequantized, for training.

No second copy of the model is needed: the GGUF's weights are dequantized to float32. A
plain llama file is read by desktop.train.gguf_llama (5 s for the default model, where
transformers' own GGUF loader takes 30 s; the two give bit-identical weights), anything
else by transformers. Either way the q/k row permutation of the GGUF converter is undone,
so the weights are in Hugging Face layout; the export (desktop.train.export) applies it
again to the LoRA's B matrices.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.train.errors import TrainingError, TrainingUnavailable

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

# Architectures whose GGUF <-> Hugging Face mapping the export knows (and parity proves).
SUPPORTED_ARCHITECTURES = ("llama",)


def missing_dependency() -> str:
    """The name of the first training package that is not installed ("" when all are)."""
    import importlib.util

    for module in ("torch", "transformers", "peft", "safetensors"):
        if importlib.util.find_spec(module) is None:
            return module
    return ""


def require_training() -> None:
    """Raise TrainingUnavailable (with the install command) unless training can run."""
    missing = missing_dependency()
    if missing:
        raise TrainingUnavailable(missing)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' progress bars and advice while it reads a GGUF."""
    import functools
    import warnings

    from transformers import modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    # The GGUF reader's dequantization bar is a bare tqdm that ignores the switch above.
    bar = getattr(gguf_utils, "tqdm", None)
    if bar is not None:
        gguf_utils.tqdm = functools.partial(bar, disable=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        if bar is not None:
            gguf_utils.tqdm = bar
        hf_logging.set_verbosity(before)
        hf_logging.enable_progress_bar()


@dataclass
class BaseModel:
    """A dequantized base model in transformers, with its tokenizer and GGUF facts."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    gguf_path: Path
    architecture: str
    n_head: int
    n_head_kv: int
    name: str


def set_threads(threads: int) -> None:
    """Use `threads` CPU threads in torch (0: the cores this process may use)."""
    import torch

    if not threads:
        affinity = getattr(os, "sched_getaffinity", None)
        threads = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    torch.set_num_threads(max(1, threads))


def load_base(gguf_path: Path) -> BaseModel:
    """Read tokenizer and float32 weights of the GGUF chat model at `gguf_path`.

    Raises:
        TrainingUnavailable: torch, transformers or peft is missing.
        TrainingError: the file is missing, or its architecture cannot be trained here.
    """
    require_training()
    from desktop.adapters.gguf_parse import parse
    from desktop.train import gguf_llama

    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise TrainingError(f"base model file not found: {gguf_path}")
    try:
        header = parse(gguf_path)
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot read base model {gguf_path}: {exc}") from exc
    arch = header.fields.get("general.architecture")
    architecture = str(arch.value) if arch is not None else ""
    if architecture not in SUPPORTED_ARCHITECTURES:
        raise TrainingError(
            f"training adapters for {architecture} models is not supported yet "
            f"({gguf_path.name}); supported: {', '.join(SUPPORTED_ARCHITECTURES)}"
        )
    named = header.fields.get("general.name")
    name = str(named.value) if named is not None and named.value else gguf_path.stem
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast

    folder, file = str(gguf_path.parent), gguf_path.name
    bpe = header.fields.get("tokenizer.ggml.model")
    # For a BPE ("gpt2") vocabulary the tokenizer class itself reads the GGUF in 0.9 s and
    # builds the same tokenizer; AutoTokenizer first parses the whole file for its config.
    tokenizer_class = PreTrainedTokenizerFast if bpe and bpe.value == "gpt2" else AutoTokenizer
    why_slow = gguf_llama.unsupported(header)
    try:
        with quiet_transformers():
            tokenizer = tokenizer_class.from_pretrained(
                folder, gguf_file=file, local_files_only=True
            )
            if why_slow:
                log.info("reading %s with transformers' GGUF loader: %s", file, why_slow)
                model: PreTrainedModel = AutoModelForCausalLM.from_pretrained(
                    folder, gguf_file=file, dtype=torch.float32, local_files_only=True
                )
            else:
                model = gguf_llama.load_llama(gguf_path, header)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise TrainingError(f"transformers cannot read {gguf_path.name}: {exc}") from exc
    model.config.use_cache = False
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    cfg = model.config
    return BaseModel(
        model=model,
        tokenizer=tokenizer,
        gguf_path=gguf_path,
        architecture=architecture,
        n_head=int(cfg.num_attention_heads),
        n_head_kv=int(getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads),
        name=name,
    )
