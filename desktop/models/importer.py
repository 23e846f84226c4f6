"""Adopting the user's own GGUF chat model: check it, copy it in, list it in the catalog.

The file is checked with the `gguf` package (magic, architecture, a whole model rather than
a LoRA adapter, a vision projector or one shard of a split model), copied into the user
models folder while its sha256 is computed, and recorded in `imported.json` there, which
`load_catalog()` merges with the bundled catalog.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from desktop import atomic
from desktop.errors import ModelError
from desktop.models import verify
from desktop.models.catalog import imported_index_path, imported_spec, load_catalog
from desktop.models.spec import ModelSpec

if TYPE_CHECKING:
    from desktop.adapters.gguf_header import GgufScalar
    from desktop.json_types import JSONObject

log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
_COPY_CHUNK = 4 << 20


@dataclass(frozen=True)
class GgufInfo:
    """What Folio needs to know from a GGUF header."""

    architecture: str
    name: str | None
    license: str | None
    context: int | None


def read_gguf_info(path: Path) -> GgufInfo:
    """Check that `path` is a complete GGUF chat model and read its description.

    Raises:
        ModelError: not a GGUF, an adapter, a projector, a shard, or a damaged header.
    """
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
    if magic != GGUF_MAGIC:
        raise ModelError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")

    try:
        fields, tensor_count = _read_header(path)
    except (ValueError, OSError) as exc:  # the parse names what is damaged
        raise ModelError(f"{path} is a damaged GGUF file: {exc}") from None

    kind = fields.get("general.type")
    if kind == "adapter" or any(key.startswith("adapter.") for key in fields):
        raise ModelError(
            f"{path} is a LoRA adapter, not a model: add it with `folio adapters` instead"
        )
    architecture = fields.get("general.architecture")
    if not isinstance(architecture, str) or not architecture:
        raise ModelError(f"{path} has no general.architecture: not a model Folio can run")
    if architecture == "clip" or kind == "mmproj":
        raise ModelError(f"{path} is a vision projector (mmproj), not a chat model")
    if kind not in (None, "model"):
        raise ModelError(f"{path} is a GGUF of type {kind!r}, not a model")
    split_count = fields.get("split.count")
    if isinstance(split_count, int) and split_count > 1:
        raise ModelError(
            f"{path} is one part of a model split into {split_count} files: merge them first "
            "(llama.cpp's `llama-gguf-split --merge`)"
        )
    if tensor_count == 0:
        raise ModelError(f"{path} holds no tensors: not a model")
    if "tokenizer.ggml.model" not in fields:
        raise ModelError(f"{path} has no tokenizer (tokenizer.ggml.model): not a chat model")
    context = fields.get(f"{architecture}.context_length")
    return GgufInfo(
        architecture=architecture,
        name=_str_or_none(fields.get("general.name")),
        license=_str_or_none(fields.get("general.license")),
        context=context if isinstance(context, int) and context > 0 else None,
    )


def _read_header(path: Path) -> tuple[dict[str, GgufScalar | None], int]:
    """The header's scalar and string fields (arrays, like the vocabulary, as None) and the
    number of tensors."""
    from desktop.adapters.gguf_parse import parse

    parsed = parse(path)
    fields = {k: None if isinstance(f.value, list) else f.value for k, f in parsed.fields.items()}
    return fields, len(parsed.tensors)


def _str_or_none(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def import_model(path: Path, models_dir: Path) -> ModelSpec:
    """Copy the user's GGUF into the user models folder `models_dir` and list it there.

    Importing the same file again returns the existing entry.

    Returns:
        The new catalog entry (`imported=True`).

    Raises:
        ModelError: the file is not a usable GGUF chat model, or another model already
            has its file name.
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise ModelError(f"no such file: {source}")
    if source.suffix.lower() != ".gguf":
        raise ModelError(f"{source} does not end in .gguf: rename it if it is a GGUF model")
    info = read_gguf_info(source)

    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / source.name
    entries = _read_entries(models_dir)
    catalog = load_catalog()

    for entry in entries:
        if entry.get("file") == source.name:
            if not target.is_file():  # its file was deleted: import afresh
                entries = [e for e in entries if e is not entry]
                break
            if verify.sha256_file(source) == entry.get("sha256"):
                return imported_spec(entry)  # the same file again
            raise ModelError(
                f"an imported model named {source.name} already exists "
                f"({entry.get('id')}); rename your file to import it too"
            )
    if any(
        not s.imported and s.kind == "chat" and target.name == s.install_path(models_dir).name
        for s in catalog
    ):
        raise ModelError(
            f"{source.name} is the file name of a catalog model; rename your file to import it"
        )

    if source.resolve() == target.resolve():
        sha256 = verify.file_sha256(target, rehash=True)
    elif target.exists():  # e.g. left by an import that failed before it was recorded
        sha256 = verify.sha256_file(source)
        if verify.file_sha256(target, rehash=True) != sha256:
            raise ModelError(f"{target} already exists; rename your file to import it")
    else:
        sha256 = _copy_with_sha256(source, target)
    size = target.stat().st_size

    taken = {s.id for s in catalog} | {str(e.get("id")) for e in entries}
    entry = {
        "id": _unique_id(_slug(source.stem), taken),
        "name": info.name or source.stem,
        "file": source.name,
        "sha256": sha256,
        "size": size,
        "license": info.license or "unknown",
        "ram_gb": _ram_estimate(size),
        "context": info.context,
        "architecture": info.architecture,
        "source": str(source),
    }
    try:
        spec = imported_spec(entry)
    except ValueError as exc:
        raise ModelError(f"cannot import {source}: {exc}") from None
    _write_entries(models_dir, [*entries, entry])
    log.info("imported %s as %s", source, spec.id)
    return spec


def _copy_with_sha256(source: Path, target: Path) -> str:
    """Copy to a temporary name beside the target, hashing as we go, then rename."""
    digest = hashlib.sha256()
    try:
        with atomic.replacing(target, atomic.SHARED) as tmp, open(source, "rb") as src:
            with open(tmp, "wb") as out:
                while chunk := src.read(_COPY_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    except OSError as exc:
        raise ModelError(
            f"cannot copy {source} to {target.parent}: {exc.strerror or exc}"
        ) from None
    sha256 = digest.hexdigest()
    verify.record(target, sha256)
    return sha256


def _slug(stem: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._")
    return slug or "imported-model"


def _unique_id(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _ram_estimate(size: int) -> float:
    """Weights plus a modest KV cache and runtime overhead, in GB, rounded up to 0.1."""
    return max(0.1, round(size * 1.2 / 1e9 + 0.3, 1))


def _read_entries(models_dir: Path) -> list[JSONObject]:
    index = imported_index_path(models_dir)
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise ModelError(f"the imported models index {index} is damaged: {exc}") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list):
        raise ModelError(f"the imported models index {index} is damaged: no list of models")
    return [m for m in models if isinstance(m, dict)]


def _write_entries(models_dir: Path, entries: list[JSONObject]) -> None:
    index = imported_index_path(models_dir)
    try:
        atomic.write_text(index, json.dumps({"version": 1, "models": entries}, indent=2))
    except OSError as exc:
        raise ModelError(f"cannot write {index}: {exc.strerror or exc}") from None
