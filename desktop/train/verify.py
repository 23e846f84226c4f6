"""Parity of an installed adapter: its GGUF in llama.cpp against the PEFT weights kept
beside it (NAME.peft/, written by training), on the built-in conversations and any given.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from desktop.train import sidecar
from desktop.train.errors import TrainingError
from desktop.train.examples import load_examples
from desktop.train.hf_base import BaseModel, load_base
from desktop.train.parity import ParityReport, check_parity, default_examples, sequences_for

if TYPE_CHECKING:
    from peft import PeftModel

MAX_TOKENS = 1024


def peft_weights(adapter_path: Path) -> Path:
    """The folder of PEFT weights `adapter_path` was exported from.

    Raises:
        TrainingError: there are none beside the adapter.
    """
    folder = sidecar.peft_dir(adapter_path)
    if not (folder / "adapter_config.json").is_file():
        raise TrainingError(
            f"{Path(adapter_path).name} has no trained weights beside it ({folder.name}/), "
            "so there is nothing to compare it with; only adapters trained by Folio have them"
        )
    return folder


def load_peft(base: BaseModel, adapter_path: Path) -> PeftModel:
    """The base model wrapped with the PEFT weights `adapter_path` was exported from."""
    from peft import PeftModel

    folder = peft_weights(adapter_path)
    return PeftModel.from_pretrained(base.model, str(folder), is_trainable=False)


def parity_of_installed(
    adapter_path: Path,
    model_path: Path,
    prompts: Path | None = None,
    base: BaseModel | None = None,
    cache_dir: Path | None = None,
) -> ParityReport:
    """Compare an installed adapter's GGUF with its PEFT weights on conversations.

    Raises:
        TrainingError, ExamplesError: no PEFT weights, or a bad prompts file.
        AdapterError: the GGUF fails validation or does not load.
    """
    peft_weights(adapter_path)  # fail before the seconds it takes to load the model
    examples = default_examples() + (load_examples(prompts) if prompts else [])
    callers_base = base is not None
    base = base or load_base(model_path)
    peft_model = load_peft(base, adapter_path)
    try:
        seqs = [s[:MAX_TOKENS] for s in sequences_for(base.tokenizer, examples)]
        return check_parity(peft_model, model_path, adapter_path, seqs, cache_dir=cache_dir)
    finally:
        if callers_base:
            peft_model.unload()
