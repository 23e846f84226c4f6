"""Write a trained PEFT LoRA as a llama.cpp LoRA GGUF (the `gguf` package, atomically).

The conventions llama.cpp's loader (src/llama-adapter.cpp) expects, and its own
convert_lora_to_gguf.py produces:

- metadata `general.type = "adapter"`, `adapter.type = "lora"`, `general.architecture`
  equal to the base model's, and `adapter.lora.alpha` as a FLOAT32 (an integer aborts
  llama.cpp); llama.cpp scales each update by alpha / rank, rank being lora_b's ne[0];
- per adapted weight `W` named like the base tensor (`blk.N.attn_q.weight`), two tensors
  `<name>.lora_a` with ggml shape [n_in, r] (numpy (r, n_in), PEFT's lora_A as is) and
  `<name>.lora_b` with ggml shape [r, n_out] (numpy (n_out, r), PEFT's lora_B as is);
- for llama-architecture models, the GGUF's q and k weights have their rows permuted for
  llama.cpp's rotary layout (convert_hf_to_gguf.py's LlamaModel.permute), so lora_b of
  attn_q and attn_k gets the same row permutation. Leaving it out gives an adapter that
  loads fine and computes the wrong thing; the parity check catches exactly that.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop import atomic
from desktop.train.errors import TrainingError

if TYPE_CHECKING:
    import torch

# Hugging Face module name -> GGUF tensor kind, for llama-architecture blocks.
GGUF_KIND = {
    "q_proj": "attn_q",
    "k_proj": "attn_k",
    "v_proj": "attn_v",
    "o_proj": "attn_output",
    "gate_proj": "ffn_gate",
    "up_proj": "ffn_up",
    "down_proj": "ffn_down",
}
_MODULE = re.compile(r"layers\.(\d+)\.(?:self_attn|mlp)\.(\w+_proj)$")


@dataclass(frozen=True)
class LoraPair:
    """One adapted weight in Hugging Face layout: A (r, n_in), B (n_out, r), and its scale."""

    layer: int
    module: str
    a: np.ndarray
    b: np.ndarray
    scaling: float

    @property
    def rank(self) -> int:
        return int(self.a.shape[0])

    @property
    def gguf_name(self) -> str:
        return f"blk.{self.layer}.{GGUF_KIND[self.module]}.weight"


def lora_pairs(peft_model: torch.nn.Module, adapter: str = "default") -> list[LoraPair]:
    """The LoRA matrices of a PEFT model, in layer order.

    Raises:
        TrainingError: a LoRA sits on a module the export cannot name.
    """
    from peft.tuners.lora import LoraLayer

    pairs: list[LoraPair] = []
    for name, module in peft_model.named_modules():
        if not isinstance(module, LoraLayer) or adapter not in module.lora_A:
            continue
        m = _MODULE.search(name)
        if m is None or m.group(2) not in GGUF_KIND:
            raise TrainingError(f"cannot export a LoRA on module {name}")
        a, b = _matrix(module.lora_A[adapter]), _matrix(module.lora_B[adapter])
        pairs.append(LoraPair(int(m.group(1)), m.group(2), a, b, float(module.scaling[adapter])))
    if not pairs:
        raise TrainingError("the model has no LoRA weights to export")
    pairs.sort(key=lambda p: (p.layer, list(GGUF_KIND).index(p.module)))
    return pairs


def _matrix(linear: torch.nn.Module) -> np.ndarray:
    weight = linear.get_parameter("weight")  # `.weight`, typed (torch types attributes loosely)
    return np.asarray(weight.detach().float().cpu().numpy())


def rope_permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder the rows of a q or k projection (or its lora_b) into llama.cpp's rope layout.

    Within each of `n_head` heads, Hugging Face keeps the two rotary halves apart
    (rows 0..d/2 and d/2..d); llama.cpp interleaves them (0, d/2, 1, d/2+1, ...).
    """
    n_out = rows.shape[0]
    if n_out % (2 * n_head):
        raise TrainingError(f"{n_out} rows do not split into {n_head} rotary heads")
    half = n_out // n_head // 2
    return rows.reshape(n_head, 2, half, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def gguf_tensors(
    pairs: list[LoraPair], n_head: int, n_head_kv: int, permute_qk: bool = True
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(base tensor name, lora_a, lora_b) in llama.cpp's layout, as float32 arrays."""
    for p in pairs:
        b = p.b
        if permute_qk and p.module == "q_proj":
            b = rope_permute(b, n_head)
        elif permute_qk and p.module == "k_proj":
            b = rope_permute(b, n_head_kv)
        yield (
            p.gguf_name,
            np.ascontiguousarray(p.a, np.float32),
            np.ascontiguousarray(b, np.float32),
        )


def alpha_for(pairs: list[LoraPair]) -> float:
    """The one alpha llama.cpp applies as alpha / rank, equal to PEFT's scaling x rank.

    Raises:
        TrainingError: the weights use different scalings (llama.cpp has one per file).
    """
    alphas = {round(p.scaling * p.rank, 6) for p in pairs}
    if len(alphas) != 1:
        raise TrainingError(f"LoRA weights with different alphas cannot share one file: {alphas}")
    return float(alphas.pop())


def write_gguf(
    pairs: list[LoraPair],
    out_path: Path,
    *,
    architecture: str,
    n_head: int,
    n_head_kv: int,
    name: str,
    description: str = "",
    base_model: str = "",
    permute_qk: bool = True,
) -> Path:
    """Write the adapter GGUF at `out_path` via a temporary file renamed into place.

    `permute_qk=False` exists only to prove that the parity check catches a broken export.
    """
    from gguf import GGUFWriter

    out_path = Path(out_path)
    alpha = alpha_for(pairs)
    with atomic.replacing(out_path) as tmp:
        writer = GGUFWriter(tmp, architecture)
        try:
            writer.add_type("adapter")
            writer.add_string("adapter.type", "lora")
            writer.add_float32("adapter.lora.alpha", float(alpha))
            writer.add_name(name)
            if description:
                writer.add_description(description)
            if base_model:
                writer.add_base_model_count(1)
                writer.add_base_model_name(0, base_model)
            for tensor, a, b in gguf_tensors(pairs, n_head, n_head_kv, permute_qk):
                writer.add_tensor(f"{tensor}.lora_a", a)
                writer.add_tensor(f"{tensor}.lora_b", b)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
        finally:
            writer.close()
    return out_path
