"""LoRA style adapters: discovery, descriptions and validation against a model.

This package never loads anything into llama.cpp; the engine (`desktop.engine`) does, and
only after `require_compatible` has passed.
"""

from __future__ import annotations

from desktop.adapters.discovery import (
    AdapterDirs,
    adapters_for_model,
    discover,
    find_adapter,
    inspect,
)
from desktop.adapters.info import MAX_SCALE, AdapterInfo, Compatibility, check_scale
from desktop.adapters.install import install_adapter
from desktop.adapters.validate import check_compatibility, require_compatible

__all__ = [
    "MAX_SCALE",
    "AdapterDirs",
    "AdapterInfo",
    "Compatibility",
    "adapters_for_model",
    "check_compatibility",
    "check_scale",
    "discover",
    "find_adapter",
    "inspect",
    "install_adapter",
    "require_compatible",
]
