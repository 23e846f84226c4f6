"""GPU offload: what `gpu_layers` means, and whether this llama.cpp build can offload."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

ALL_LAYERS = -1


def gpu_offload_supported() -> bool:
    """True when llama.cpp was built with a GPU backend (CUDA, Metal, Vulkan...)."""
    try:
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except (ImportError, AttributeError, OSError):
        return False


def resolve_gpu_layers(setting: int | str) -> int:
    """Turn a `gpu_layers` setting into llama.cpp's `n_gpu_layers`.

    Args:
        setting: "auto" (all layers when the build can offload, else none), 0 (CPU only),
            N > 0 (that many layers) or -1 (all layers).

    Raises:
        ValueError: anything else.
    """
    if isinstance(setting, str):
        text = setting.strip().lower()
        if text == "auto":
            return ALL_LAYERS if gpu_offload_supported() else 0
        try:
            setting = int(text)
        except ValueError:
            raise ValueError(
                f"gpu_layers must be 'auto' or a whole number, got {setting!r}"
            ) from None
    if setting < ALL_LAYERS:
        raise ValueError(f"gpu_layers must be -1 (all), 0 or more, got {setting}")
    return setting
