"""A copy of the library's folder list beside the library file (`<library>.folders.json`).

It is what makes "rebuild from the folders" possible when the library file itself is
damaged past reading: the folders are known without opening the database.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from desktop import atomic

log = logging.getLogger(__name__)


def sidecar(library: Path) -> Path:
    return library.with_name(library.name + ".folders.json")


def save(library: Path, folders: list[str]) -> None:
    """Write the folder list atomically; a failure is logged, never raised (it is a copy)."""
    try:
        atomic.write_text(sidecar(library), json.dumps({"folders": sorted(folders)}, indent=1))
    except OSError as exc:
        log.warning("could not save the folder list beside %s: %s", library, exc)


def load(library: Path) -> list[str]:
    """The folders last saved for this library ([] if none or unreadable)."""
    try:
        data = json.loads(sidecar(library).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    folders = data.get("folders") if isinstance(data, dict) else None
    return [str(f) for f in folders] if isinstance(folders, list) else []
