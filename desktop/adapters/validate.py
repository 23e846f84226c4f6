"""Judge whether a LoRA GGUF fits a base model, before llama.cpp ever opens it.

The checks mirror what llama.cpp's `llama_adapter_lora_init` verifies, plus what it does
not verify but would abort or misbehave on later: metadata keys of the wrong type (read
with asserting getters), tensors that are not 2-D, token-embedding pairs whose ranks
differ, tensor types the matrix multiply cannot take, and data beyond the end of the file.
"""

from __future__ import annotations

import functools
from pathlib import Path

from desktop.adapters.gguf_header import GgufHeader, ModelLayout, read_header, read_model_layout
from desktop.adapters.info import AdapterInfo, Compatibility
from desktop.errors import AdapterError

# Types every ggml backend can multiply with f32 activations; converters emit these.
SUPPORTED_DTYPES = frozenset({"F32", "F16", "BF16", "Q8_0"})
_BLOCK = {"F32": 1, "F16": 1, "BF16": 1, "Q8_0": 32}


@functools.lru_cache(maxsize=64)
def _cached_header(path: str, size: int, mtime_ns: int) -> GgufHeader:
    return read_header(Path(path))


def adapter_header(path: Path) -> GgufHeader:
    """The adapter's header, re-read only when the file changes."""
    st = Path(path).stat()
    return _cached_header(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def _model_label(layout: ModelLayout) -> str:
    return layout.path.name


def header_problems(header: GgufHeader, layout: ModelLayout) -> list[str]:
    """Every reason `header` cannot be applied to the model of `layout` (empty: it fits)."""
    problems: list[str] = []
    for key in ("general.type", "general.architecture", "adapter.type"):
        kind = header.kind(key)
        if kind is not None and kind != "STRING":
            problems.append(f"metadata {key} has type {kind}, not a string")
    if problems:
        return problems
    gtype = header.string("general.type")
    if gtype != "adapter":
        return [f"it is not an adapter (general.type is {gtype or 'missing'})"]
    atype = header.string("adapter.type")
    if atype != "lora":
        return [f"it is not a LoRA adapter (adapter.type is {atype or 'missing'})"]
    arch = header.string("general.architecture") or ""
    if arch != layout.architecture:
        return [
            f"it is for architecture '{arch or 'missing'}', the model is '{layout.architecture}'"
        ]
    alpha_kind = header.kind("adapter.lora.alpha")
    if alpha_kind not in (None, "FLOAT32"):
        problems.append(f"adapter.lora.alpha has type {alpha_kind}, llama.cpp needs FLOAT32")
    if header.kind("adapter.alora.invocation_tokens") is not None:
        problems.append("activated LoRA (aLoRA) adapters are not supported")

    pairs: dict[str, dict[str, tuple[tuple[int, ...], str]]] = {}
    for t in header.tensors.values():
        if t.offset + t.n_bytes > header.size_bytes:
            problems.append(f"tensor {t.name} runs past the end of the file (truncated?)")
            continue
        if t.name.endswith((".lora_a", ".lora_b")):
            base, part = t.name[: -len(".lora_a")], t.name[-1]
            pairs.setdefault(base, {})[part] = (t.shape, t.dtype)
        elif t.name.endswith("_norm.weight"):
            continue  # llama.cpp skips these
        else:
            problems.append(f"tensor {t.name} is neither a lora_a nor a lora_b")
    if not pairs and not problems:
        problems.append("it contains no LoRA tensors")

    for base, ab in sorted(pairs.items()):
        if "a" not in ab or "b" not in ab:
            missing = "lora_b" if "a" in ab else "lora_a"
            problems.append(f"{base} has no {missing}")
            continue
        (a_shape, a_type), (b_shape, b_type) = ab["a"], ab["b"]
        for part, dtype, shape in (("lora_a", a_type, a_shape), ("lora_b", b_type, b_shape)):
            if dtype not in SUPPORTED_DTYPES:
                problems.append(
                    f"{base}.{part} has type {dtype}; supported: "
                    f"{', '.join(sorted(SUPPORTED_DTYPES))}"
                )
            elif shape and shape[0] % _BLOCK[dtype]:
                problems.append(f"{base}.{part} rows do not fit {dtype} blocks")
        if base not in layout.tensors:
            problems.append(f"{base} does not exist in the model")
            continue
        w_shape = layout.tensors[base][0]
        if len(w_shape) != 2:
            problems.append(
                f"{base} is a {len(w_shape)}-D tensor in the model; only 2-D "
                "weights can take a LoRA here"
            )
            continue
        if len(a_shape) != 2 or len(b_shape) != 2:
            problems.append(
                f"{base}: lora_a and lora_b must be 2-D, got {list(a_shape)} and {list(b_shape)}"
            )
            continue
        if base.endswith("token_embd.weight"):
            # llama.cpp flips A and B for the embedding: A is [rank, n_vocab], B [rank, n_embd].
            ok = a_shape[0] == b_shape[0] and a_shape[1] == w_shape[1] and b_shape[1] == w_shape[0]
        else:
            ok = a_shape[0] == w_shape[0] and b_shape[1] == w_shape[1] and a_shape[1] == b_shape[0]
        if not ok:
            problems.append(
                f"{base}: lora_a {list(a_shape)} x lora_b {list(b_shape)} does not "
                f"fit the model's {list(w_shape)}"
            )
    return problems


def check_compatibility(
    adapter: AdapterInfo | Path, model_path: Path, cache_dir: Path | None = None
) -> Compatibility:
    """A verdict with a human reason, for listings and the GUI dropdown. Never raises.

    `cache_dir` keeps the base model's layout between runs (see `read_model_layout`).
    """
    path = adapter.path if isinstance(adapter, AdapterInfo) else Path(adapter)
    if isinstance(adapter, AdapterInfo) and adapter.problem:
        return Compatibility(False, adapter.problem)
    try:
        layout = read_model_layout(model_path, cache_dir)
    except (OSError, ValueError) as exc:
        return Compatibility(False, f"the model {Path(model_path).name} cannot be read: {exc}")
    try:
        header = adapter_header(path)
    except (OSError, ValueError) as exc:
        return Compatibility(False, f"cannot read {path.name}: {exc}")
    problems = header_problems(header, layout)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        return Compatibility(False, problems[0] + more)
    return Compatibility(True, f"fits {_model_label(layout)} ({layout.architecture})")


def require_compatible(
    adapter: AdapterInfo, model_path: Path, cache_dir: Path | None = None
) -> None:
    """Raise AdapterError naming the adapter and the model unless the adapter fits.

    Raises:
        AdapterError: the adapter file cannot be used with this model.
    """
    verdict = check_compatibility(adapter, model_path, cache_dir)
    if not verdict.ok:
        raise AdapterError(
            f"adapter '{adapter.name}' ({adapter.path}) cannot be used with "
            f"model {Path(model_path).name}: {verdict.reason}"
        )
