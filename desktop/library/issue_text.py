"""How a file's problem is worded in a list that already names the file (CLI and window)."""

from __future__ import annotations

from pathlib import Path


def name_in_folder(path: str, folder: str) -> str:
    """`path` relative to the indexed `folder` (the path itself if it lies elsewhere)."""
    try:
        return Path(path).relative_to(folder).as_posix() or Path(path).name
    except ValueError:
        return path


def reason_without_path(path: str, reason: str) -> str:
    """The reason without the file's path or name in front (the line already names it)."""
    for prefix in (path, Path(path).name):
        if reason.startswith(prefix + ": "):
            return reason[len(prefix) + 2 :]
    return reason
