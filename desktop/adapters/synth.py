"""Write small synthetic LoRA GGUFs for a base model: for tests, the GUI self-test and benches.

The weights are random, not trained: they exist to prove that the machinery (validation,
hot swap, caching) works on the real model. With the default magnitude the greedy answer
of the default chat model visibly changes, and two seeds give two different answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from desktop import atomic
from desktop.adapters.gguf_header import read_model_layout

DEFAULT_TARGETS = ("attn_q", "attn_k", "attn_v", "attn_output")
DEFAULT_MAGNITUDE = 1.0


def write_lora(
    model_path: Path,
    out_path: Path,
    *,
    rank: int = 8,
    alpha: float = 16.0,
    targets: Sequence[str] = DEFAULT_TARGETS,
    seed: int = 0,
    magnitude: float = DEFAULT_MAGNITUDE,
    name: str | None = None,
    description: str | None = None,
    architecture: str | None = None,
    mismatch: bool = False,
    dtype: str = "f32",
    base_model: str | None = None,
) -> Path:
    """Write a LoRA adapter GGUF for `model_path` at `out_path` and return the path.

    Args:
        rank: LoRA rank r; each target gets A [n_in, r] and B [r, n_out] (ggml order).
        alpha: stored as `adapter.lora.alpha`; llama.cpp scales the delta by alpha / r.
        targets: tensor kinds per block (`blk.N.<target>.weight`) to adapt.
        seed: random seed; different seeds give different styles.
        magnitude: size of B relative to a unit-variance update; larger changes more.
        architecture: write this architecture instead of the model's (a mismatch test).
        mismatch: write lora_a one block too wide for the model (a shape mismatch test).
        dtype: "f32" or "f16" for the LoRA tensors.

    Raises:
        ValueError: bad arguments, or no target tensor exists in the model.
    """
    from gguf import GGUFWriter

    if rank < 1:
        raise ValueError("rank must be at least 1")
    if dtype not in ("f32", "f16"):
        raise ValueError("dtype must be 'f32' or 'f16'")
    layout = read_model_layout(Path(model_path))
    wanted = re.compile(rf"^blk\.(\d+)\.({'|'.join(map(re.escape, targets))})\.weight$")
    chosen = sorted(
        (int(m.group(1)), targets.index(m.group(2)), tensor)
        for tensor in layout.tensors
        if (m := wanted.match(tensor))
    )
    if not chosen:
        raise ValueError(f"none of {list(targets)} exists in {Path(model_path).name}")

    rng = np.random.default_rng(seed)
    np_dtype = np.float32 if dtype == "f32" else np.float16
    out_path = Path(out_path)
    with atomic.replacing(out_path) as tmp:
        writer = GGUFWriter(tmp, architecture or layout.architecture)
        try:
            writer.add_type("adapter")
            writer.add_string("adapter.type", "lora")
            writer.add_float32("adapter.lora.alpha", float(alpha))
            writer.add_name(name or out_path.stem)
            if description:
                writer.add_description(description)
            writer.add_base_model_count(1)
            writer.add_base_model_name(0, base_model or layout.name)
            for _, _, tensor in chosen:
                n_in, n_out = layout.tensors[tensor][0][:2]
                a_in = n_in + 32 if mismatch else n_in
                # numpy shapes are ggml shapes reversed: A is ne [n_in, r], B is ne [r, n_out].
                a = rng.standard_normal((rank, a_in)) / np.sqrt(a_in)
                b = rng.standard_normal((n_out, rank)) * (magnitude / np.sqrt(rank))
                writer.add_tensor(f"{tensor}.lora_a", a.astype(np_dtype))
                writer.add_tensor(f"{tensor}.lora_b", b.astype(np_dtype))
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
        finally:
            writer.close()
    return out_path
