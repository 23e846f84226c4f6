"""Adding an adapter made elsewhere (a `.gguf` and its sidecar) to the user's adapters folder."""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

from desktop import atomic
from desktop.adapters.discovery import inspect
from desktop.adapters.info import AdapterInfo
from desktop.adapters.validate import check_compatibility
from desktop.errors import AdapterError

SIDECAR_SUFFIXES = (".toml", ".json")


def install_adapter(
    source: Path, user_dir: Path, model_path: Path | None = None, cache_dir: Path | None = None
) -> AdapterInfo:
    """Copy the adapter `source` (and a sidecar beside it) into `user_dir`.

    The file is checked first: it must be a readable LoRA adapter and, when `model_path` is
    given, fit that model. Each file is written to a temporary name and renamed, so a
    failure leaves no half-copied adapter.

    Returns:
        The installed adapter, as discovery will list it.

    Raises:
        AdapterError: not a `.gguf`, unreadable, not a LoRA adapter, does not fit the model,
            or another adapter of that file name is installed.
    """
    source = Path(source).expanduser()
    if source.suffix.lower() != ".gguf":
        raise AdapterError(f"{source.name}: a style adapter is a .gguf file")
    if not source.is_file():
        raise AdapterError(f"no such adapter file: {source}")
    info = inspect(source, "file")
    if info.problem:
        raise AdapterError(f"{source.name} cannot be used: {info.problem}")
    if model_path is not None:
        verdict = check_compatibility(info, model_path, cache_dir)
        if not verdict.ok:
            raise AdapterError(
                f"{source.name} does not fit {Path(model_path).name}: {verdict.reason}"
            )
    target = user_dir / source.name
    if target.exists() and target.resolve() != source.resolve():
        if not filecmp.cmp(target, source, shallow=False):
            raise AdapterError(
                f"an adapter file named {source.name} is already installed in {user_dir}; "
                "rename yours to add it too"
            )
    user_dir.mkdir(parents=True, exist_ok=True)
    sidecars = [source.with_suffix(s) for s in SIDECAR_SUFFIXES if source.with_suffix(s).is_file()]
    for file in [*sidecars, source]:  # the .gguf last: discovery never sees it without its sidecar
        if (user_dir / file.name).resolve() == file.resolve():
            continue
        _copy_atomically(file, user_dir / file.name)
    return inspect(target, "user")


def _copy_atomically(source: Path, target: Path) -> None:
    try:
        with atomic.replacing(target) as tmp:
            shutil.copyfile(source, tmp)
    except OSError as exc:
        raise AdapterError(f"cannot copy {source.name} into {target.parent}: {exc}") from exc
