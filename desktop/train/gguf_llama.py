"""A llama-architecture GGUF read straight into a transformers model, for training.

transformers can read a GGUF itself, but for the default 135M chat model that takes about
37 s on a laptop CPU: it parses the metadata with gguf.GGUFReader three times (the
tokenizer's 98k strings cost 8–11 s a time) and builds a name map per tensor. The work that
matters, dequantizing the weights, is 2–3 s. This module parses the header once
(desktop.adapters.gguf_parse), builds the LlamaConfig from it, dequantizes each tensor with
the gguf package, maps llama.cpp's names to Hugging Face's and undoes the converter's q/k
rotary permutation (the export applies it again to the LoRA's B matrices).

It covers plain llama files: anything else it does not recognise (rope scaling, extra or
missing tensors) makes `unsupported()` say why, and the caller falls back to transformers'
own loader. The parity check (desktop.train.parity) compares the result with llama.cpp on
every position, so a mistake here cannot reach an installed adapter.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop.adapters.gguf_parse import Parsed, Scalar

if TYPE_CHECKING:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

ARCH = "llama"
_GLOBAL = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_LAYER = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_norm": "post_attention_layernorm",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_DEQUANTIZABLE = ("F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K",
                  "Q6_K", "Q8_K", "Q2_K", "Q3_K")  # fmt: skip


def _value(header: Parsed, key: str) -> Scalar | list[Scalar] | None:
    field = header.fields.get(key)
    return field.value if field is not None else None


def _int(header: Parsed, key: str) -> int | None:
    value = _value(header, key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(header: Parsed, key: str) -> float | None:
    value = _value(header, key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def hf_name(gguf_name: str) -> str | None:
    """The Hugging Face parameter name of a llama.cpp tensor name (None: not a llama one)."""
    if gguf_name in _GLOBAL:
        return _GLOBAL[gguf_name]
    parts = gguf_name.split(".")
    if len(parts) == 4 and parts[0] == "blk" and parts[1].isdigit() and parts[3] == "weight":
        module = _LAYER.get(parts[2])
        if module is not None:
            return f"model.layers.{int(parts[1])}.{module}.weight"
    return None


def unsupported(header: Parsed) -> str:
    """Why this file needs transformers' own loader ("" when this one reads it exactly)."""
    if _value(header, "general.architecture") != ARCH:
        return "not a llama-architecture file"
    if any(key.startswith(f"{ARCH}.rope.scaling") for key in header.fields):
        return "it uses rope scaling"
    for key in ("block_count", "embedding_length", "feed_forward_length", "attention.head_count"):
        if _int(header, f"{ARCH}.{key}") is None:
            return f"it has no {ARCH}.{key}"
    names = set(header.tensors)
    unknown = sorted(n for n in names if hf_name(n) is None)
    if unknown:
        return f"it has tensors this reader does not map ({', '.join(unknown[:3])})"
    layers = _int(header, f"{ARCH}.block_count") or 0
    expected = {"token_embd.weight", "output_norm.weight"} | {
        f"blk.{i}.{kind}.weight" for i in range(layers) for kind in _LAYER
    }
    if not expected <= names:
        return f"it lacks {sorted(expected - names)[0]}"
    odd = sorted(t.dtype for t in header.tensors.values() if t.dtype not in _DEQUANTIZABLE)
    if odd:
        return f"its {odd[0]} tensors"
    return ""


def llama_config(header: Parsed) -> LlamaConfig:
    """The LlamaConfig a llama GGUF describes (the keys transformers' GGUF loader sets)."""
    from transformers import LlamaConfig

    def need(key: str) -> int:
        value = _int(header, f"{ARCH}.{key}")
        if value is None:
            raise ValueError(f"the file has no {ARCH}.{key}")
        return value

    heads = need("attention.head_count")
    kv_heads = _int(header, f"{ARCH}.attention.head_count_kv") or heads
    hidden = need("embedding_length")
    tokens = header.fields.get("tokenizer.ggml.tokens")
    vocab = _int(header, f"{ARCH}.vocab_size") or (tokens.count if tokens else None)
    if vocab is None:
        raise ValueError("the file says nothing of its vocabulary size")
    special = {
        name: _int(header, f"tokenizer.ggml.{key}_token_id")
        for name, key in (("bos", "bos"), ("eos", "eos"), ("pad", "padding"))
    }
    return LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=need("feed_forward_length"),
        num_hidden_layers=need("block_count"),
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        head_dim=_int(header, f"{ARCH}.rope.dimension_count") or hidden // heads,
        max_position_embeddings=_int(header, f"{ARCH}.context_length") or 2048,
        rms_norm_eps=_float(header, f"{ARCH}.attention.layer_norm_rms_epsilon") or 1e-6,
        rope_parameters={
            "rope_theta": _float(header, f"{ARCH}.rope.freq_base") or 10000.0,
            "rope_type": "default",
        },
        tie_word_embeddings="output.weight" not in header.tensors,
        bos_token_id=special["bos"],
        eos_token_id=special["eos"],
        pad_token_id=special["pad"],
        dtype="float32",
    )


def unpermute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's rotary row order in a q or k projection (the inverse of
    desktop.train.export.rope_permute)."""
    half = rows.shape[0] // n_head // 2
    return rows.reshape(n_head, half, 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)


def state_dict(path: Path, header: Parsed, heads: int, kv_heads: int) -> dict[str, torch.Tensor]:
    """Every weight of the file, dequantized to float32, under its Hugging Face name."""
    import torch
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    blob = np.memmap(path, dtype=np.uint8, mode="r")
    out: dict[str, torch.Tensor] = {}
    try:
        for name, t in header.tensors.items():
            target = hf_name(name)
            if target is None:
                continue
            rows = int(np.prod(t.shape[1:])) if len(t.shape) > 1 else 1
            raw = blob[t.offset : t.offset + t.n_bytes].reshape(rows, t.n_bytes // rows)
            values = dequantize(raw, GGMLQuantizationType[t.dtype])
            values = np.array(values, dtype=np.float32).reshape(tuple(reversed(t.shape)))
            if name.endswith("attn_q.weight"):
                values = unpermute(values, heads)
            elif name.endswith("attn_k.weight"):
                values = unpermute(values, kv_heads)
            out[target] = torch.from_numpy(np.ascontiguousarray(values))
    finally:
        del blob
    return out


def load_llama(path: Path, header: Parsed) -> LlamaForCausalLM:
    """The float32 LlamaForCausalLM of a file `unsupported()` accepts, in eval mode."""
    from transformers import LlamaForCausalLM

    config = llama_config(header)
    model = LlamaForCausalLM(config)
    heads = int(config.num_attention_heads)
    weights = state_dict(path, header, heads, int(config.num_key_value_heads or heads))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
    if set(missing) - tied or unexpected:
        raise ValueError(f"weights do not fit the model: missing {missing}, extra {unexpected}")
    if config.tie_word_embeddings:
        model.tie_weights()
    return model.eval()
