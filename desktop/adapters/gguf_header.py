"""Read GGUF headers (metadata and tensor shapes) in Python, never with llama.cpp.

llama.cpp aborts the whole process on some malformed files (a metadata key of the wrong
type trips a GGML_ASSERT), so everything Folio needs to judge a file is read here first.
The parse itself is desktop.adapters.gguf_parse (0.16 s for the default chat model, where
gguf.GGUFReader takes 6 s). A base model's layout is still cached per file: in memory, and
on disk in the cache folder the caller names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from desktop import atomic

log = logging.getLogger(__name__)

_LAYOUT_CACHE_VERSION = 1

GgufScalar: TypeAlias = "str | int | float | bool"
"""A scalar metadata value as `gguf` reads it (a string, a number, a boolean)."""
GgufValue: TypeAlias = "GgufScalar | list[GgufScalar] | None"
"""A metadata value: a scalar, a short array (a list), or None for a long array."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as llama.cpp sees it: `shape` in ggml order (ne[0] first)."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # ggml type name, e.g. "F32", "Q4_1"
    offset: int = 0  # absolute file offset of the data
    n_bytes: int = 0


@dataclass(frozen=True)
class GgufHeader:
    """The metadata and tensor table of one GGUF file.

    `fields` maps each key to `(gguf value type name, value)`; arrays of more than a few
    items are summarised as `None` (Folio never needs their content).
    """

    path: Path
    size_bytes: int
    fields: dict[str, tuple[str, GgufValue]]
    tensors: dict[str, TensorInfo]

    def string(self, key: str) -> str | None:
        """The value of a string key, or None when absent or of another type."""
        kind, value = self.fields.get(key, ("", None))
        return value if kind == "STRING" and isinstance(value, str) else None

    def kind(self, key: str) -> str | None:
        """The gguf value type of a key (e.g. "FLOAT32"), or None when absent."""
        entry = self.fields.get(key)
        return entry[0] if entry else None

    def value(self, key: str) -> GgufValue:
        entry = self.fields.get(key)
        return entry[1] if entry else None


@dataclass(frozen=True)
class ModelLayout:
    """What adapter validation needs from a base model: its architecture and tensor shapes."""

    path: Path
    architecture: str
    name: str
    tensors: dict[str, tuple[tuple[int, ...], str]]  # name -> (ggml shape, dtype)


def read_header(path: Path, *, tensors: bool = True) -> GgufHeader:
    """Parse a GGUF file's header.

    Raises:
        ValueError: the file is not a readable GGUF (the message says why).
        OSError: the file cannot be opened.
    """
    from desktop.adapters.gguf_parse import parse

    path = Path(path)
    size = path.stat().st_size
    try:
        parsed = parse(path)
    except ValueError as exc:
        raise ValueError(f"not a readable GGUF file ({exc})") from exc
    fields = {key: (f.kind, f.value) for key, f in parsed.fields.items()}
    table: dict[str, TensorInfo] = {}
    if tensors:
        for t in parsed.tensors.values():
            table[t.name] = TensorInfo(t.name, t.shape, t.dtype, t.offset, t.n_bytes)
    return GgufHeader(path=path, size_bytes=size, fields=fields, tensors=table)


_layouts: dict[tuple[str, int, int], ModelLayout] = {}
_layouts_lock = threading.Lock()


def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def _disk_cache_path(key: tuple[str, int, int], cache_dir: Path) -> Path:
    digest = hashlib.sha1(key[0].encode("utf-8")).hexdigest()[:16]
    return cache_dir / "gguf-layout" / f"{digest}.json"


def _load_disk(key: tuple[str, int, int], cache_dir: Path) -> ModelLayout | None:
    file = _disk_cache_path(key, cache_dir)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if raw.get("version") != _LAYOUT_CACHE_VERSION or raw.get("key") != list(key):
        return None
    try:
        tensors = {n: (tuple(int(d) for d in s), str(t)) for n, (s, t) in raw["tensors"].items()}
        return ModelLayout(Path(key[0]), str(raw["architecture"]), str(raw["name"]), tensors)
    except (KeyError, TypeError, ValueError):
        return None


def _save_disk(key: tuple[str, int, int], layout: ModelLayout, cache_dir: Path) -> None:
    file = _disk_cache_path(key, cache_dir)
    data = {
        "version": _LAYOUT_CACHE_VERSION,
        "key": list(key),
        "architecture": layout.architecture,
        "name": layout.name,
        "tensors": {n: [list(s), t] for n, (s, t) in layout.tensors.items()},
    }
    try:
        atomic.write_text(file, json.dumps(data))
    except OSError as exc:  # a read-only home only costs speed
        log.debug("cannot write layout cache %s: %s", file, exc)


def read_model_layout(model_path: Path, cache_dir: Path | None = None) -> ModelLayout:
    """The architecture and tensor shapes of a base model, cached per file version.

    Args:
        model_path: the base model GGUF.
        cache_dir: where to keep the layout between runs (None: in memory only).

    Raises:
        ValueError: the model file is not a readable GGUF.
        OSError: it cannot be opened.
    """
    key = _file_key(Path(model_path))
    with _layouts_lock:
        cached = _layouts.get(key)
    if cached is not None:
        return cached
    layout = _load_disk(key, cache_dir) if cache_dir is not None else None
    if layout is None:
        header = read_header(Path(model_path))
        layout = ModelLayout(
            path=Path(key[0]),
            architecture=header.string("general.architecture") or "",
            name=header.string("general.name") or Path(model_path).stem,
            tensors={t.name: (t.shape, t.dtype) for t in header.tensors.values()},
        )
        if cache_dir is not None:
            _save_disk(key, layout, cache_dir)
    with _layouts_lock:
        _layouts[key] = layout
    return layout
