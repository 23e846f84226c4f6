"""Find LoRA adapters on disk and describe each one.

Adapters are `*.gguf` files in the shipped `models/adapters/` folder and in the user's
adapters folder (the user's win when names clash). A sidecar `NAME.toml` or `NAME.json`
beside `NAME.gguf` may give `name`, `description` and `base_model`; otherwise they come
from the GGUF metadata (`general.name`, `general.description`, `general.base_model.0.name`)
and the file name.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from desktop.adapters.info import AdapterInfo, Compatibility
from desktop.adapters.validate import adapter_header, check_compatibility
from desktop.errors import AdapterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger(__name__)


AdapterDirs = Sequence[tuple[Path, str]]
"""Folders searched for adapters, each with its source label ("user", "bundled"), first wins."""


def _read_sidecar(gguf_path: Path) -> dict[str, str]:
    for suffix in (".toml", ".json"):
        side = gguf_path.with_suffix(suffix)
        if not side.is_file():
            continue
        try:
            text = side.read_text(encoding="utf-8")
            data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable adapter sidecar %s: %s", side, exc)
            return {}
        if not isinstance(data, dict):
            log.warning("ignoring adapter sidecar %s: not a table", side)
            return {}
        return {k: v for k, v in data.items() if isinstance(v, str)}
    return {}


def _safe_name(raw: str, fallback: str) -> str:
    name = re.sub(r"[:\x00-\x1f]", "_", raw).strip()
    return name or fallback


def inspect(path: Path, source: str = "file") -> AdapterInfo:
    """Describe one adapter file; an unreadable one is described with its `problem`.

    Raises:
        AdapterError: the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise AdapterError(f"adapter file not found: {path}")
    side = _read_sidecar(path)
    size = path.stat().st_size
    fallback = _safe_name(path.stem, "adapter")
    try:
        header = adapter_header(path)
    except (OSError, ValueError) as exc:
        return AdapterInfo(
            name=_safe_name(side.get("name", ""), fallback),
            description=side.get("description", ""),
            path=path,
            base_model=side.get("base_model", ""),
            architecture="",
            rank=0,
            alpha=0.0,
            size_bytes=size,
            source=source,
            problem=f"cannot read {path.name}: {exc}",
        )
    # lora_b is [rank, n_out] for every target (token_embd included), so it gives the rank.
    ranks = [t.shape[0] for n, t in header.tensors.items() if n.endswith(".lora_b") and t.shape]
    alpha = header.value("adapter.lora.alpha")
    targets = tuple(sorted(n[: -len(".lora_a")] for n in header.tensors if n.endswith(".lora_a")))
    name = side.get("name") or header.string("general.name") or ""
    description = side.get("description") or header.string("general.description") or ""
    base_model = side.get("base_model") or header.string("general.base_model.0.name") or ""
    architecture = header.string("general.architecture") or ""
    rank = max(ranks, default=0)
    problem = ""
    if not architecture or rank <= 0:
        problem = "the file has no LoRA tensors or no architecture"
    return AdapterInfo(
        name=_safe_name(name, fallback),
        description=description,
        path=path,
        base_model=base_model,
        architecture=architecture,
        rank=rank,
        alpha=float(alpha) if isinstance(alpha, (int, float)) else 0.0,
        size_bytes=size,
        targets=targets,
        source=source,
        problem=problem,
        dtypes=tuple(sorted({t.dtype for t in header.tensors.values()})),
        format_regex=side.get("format_regex", ""),
    )


def discover(dirs: AdapterDirs) -> list[AdapterInfo]:
    """All adapters in `dirs`, one per name (the first folder wins), sorted by name."""
    found: dict[str, AdapterInfo] = {}
    for folder, source in dirs:
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.gguf")):
            try:
                info = inspect(file, source)
            except AdapterError:
                continue  # removed while we looked
            if info.name in found:
                log.info(
                    "adapter %s (%s) is shadowed by %s", info.name, file, found[info.name].path
                )
                continue
            found[info.name] = info
    return sorted(found.values(), key=lambda i: i.name.lower())


def find_adapter(name: str, dirs: AdapterDirs) -> AdapterInfo:
    """The adapter called `name`, or one given by the path of its `.gguf` file.

    Raises:
        AdapterError: no adapter has that name (the message lists the known ones).
    """
    known = discover(dirs)
    for info in known:
        if info.name == name:
            return info
    candidate = Path(name).expanduser()
    if candidate.suffix.lower() == ".gguf" and candidate.is_file():
        return inspect(candidate, "file")
    names = ", ".join(i.name for i in known) or "none installed"
    raise AdapterError(f"unknown adapter '{name}' (available: {names}; see `folio adapters list`)")


def active_format(active: Sequence[tuple[str, float]], dirs: AdapterDirs) -> str:
    """The answer format declared by the first of the `active` (name, scale) adapters that
    declares one and is installed in `dirs` ("" when none does)."""
    if not active:
        return ""
    infos = {info.name: info for info in discover(dirs)}
    for name, scale in active:
        info = infos.get(name)
        if info is not None and scale > 0 and info.format_regex:
            return info.format_regex
    return ""


def adapters_for_model(
    model_path: Path, dirs: AdapterDirs, cache_dir: Path | None = None
) -> list[tuple[AdapterInfo, Compatibility]]:
    """Every discovered adapter with its verdict for `model_path` (for lists and dropdowns)."""
    return [(info, check_compatibility(info, model_path, cache_dir)) for info in discover(dirs)]
