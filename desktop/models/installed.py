"""Whether a model is installed, and where: the folders of a models search path, checked for
each file's presence and size (`desktop/models/verify.py` hashes them), and how to get a
missing one.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from desktop.errors import ModelError
from desktop.models.spec import ModelSpec

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - Python 3.10
    pass

log = logging.getLogger(__name__)
SearchPath = Sequence[Path]
"""Folders searched for installed models, in order (`Locations.models_search_path`)."""


def _complete_in(spec: ModelSpec, models_dir: Path) -> bool:
    for rel in spec.local_files:
        if not (models_dir / rel).is_file():
            return False
    if spec.size:
        try:
            return spec.main_file(models_dir).stat().st_size == spec.size
        except OSError:
            return False
    return True


def local_path(spec: ModelSpec, search_path: SearchPath) -> Path | None:
    """Where the model is installed (GGUF file, or embedding folder), or None.

    Searches the folders of `search_path` in order (the user's first, then the bundled
    `models/`). Files are checked for presence and size, not hashed: see `verify`.
    """
    for models_dir in search_path:
        if _complete_in(spec, models_dir):
            return spec.install_path(models_dir)
    return None


def how_to_get(spec: ModelSpec) -> str:
    """One sentence telling the user how to install this model."""
    if spec.imported:
        return "import it again with `folio models import PATH`"
    if spec.derived_from is not None:
        return (
            f"rerun setup (`python -m desktop.models.setup_defaults`), which makes it from "
            f"{spec.derived_from}"
        )
    if spec.default:
        return (
            "rerun setup (`python -m desktop.models.setup_defaults`) or "
            f"run `folio models pull {spec.id}`"
        )
    return f"run `folio models pull {spec.id}`"


def require_local(spec: ModelSpec, search_path: SearchPath) -> Path:
    """Like `local_path`, but a missing model is a ModelError saying how to get it."""
    found = local_path(spec, search_path)
    if found is None:
        where = ", ".join(str(d) for d in search_path)
        raise ModelError(
            f"model {spec.id} ({spec.name}) is not installed (looked in {where}): "
            f"{how_to_get(spec)}"
        )
    return found
