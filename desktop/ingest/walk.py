"""Find the documents under a folder, skipping what ignore files, hidden names and size rule out."""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec

from desktop.errors import ExtractionError
from desktop.ingest.extract import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)

#: Ignore files read in every folder, in this order (later lines win), both gitignore syntax.
IGNORE_FILES = (".gitignore", ".folioignore")
#: Folders never entered, besides hidden ones (names starting with a dot).
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "venv", "site-packages"})
DEFAULT_MAX_BYTES = 200 * 2**20
# What pathspec raises for a pattern it cannot compile: its own ValueError, or re's error.
_BAD_PATTERN = (ValueError, re.error)


@dataclass(frozen=True)
class _Rules:
    """The patterns of one folder's ignore files, matched against paths relative to it."""

    base: Path
    spec: GitIgnoreSpec


@dataclass(frozen=True)
class _Entry:
    """A file or folder still to visit, with the ignore rules of the folders above it."""

    path: Path
    is_dir: bool
    rules: tuple[_Rules, ...]


def iter_documents(root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Path]:
    """Yield the supported documents under `root`, in sorted order; `root` itself if a file.

    A file given as `root` is yielded as is, so that extraction can say why it cannot be
    read. Under a folder, skips: paths matched by `.gitignore` or `.folioignore` (in any
    folder, for that folder's subtree), hidden files and folders, `node_modules`,
    `__pycache__`, virtual environments, Office lock files (`~$*`), files over `max_bytes`,
    unsupported suffixes, and folders already visited through a symlink. Unreadable folders
    are logged and skipped.

    Raises:
        ExtractionError: `root` does not exist or cannot be read.
    """
    try:
        info = root.stat()
    except OSError as e:
        raise ExtractionError(f"{root}: no such file or folder ({e.strerror or e})") from None
    if not stat.S_ISDIR(info.st_mode):
        yield root
        return
    walker = _Walker(root, max_bytes)
    walker.visited.add((info.st_dev, info.st_ino))
    stack = [_Entry(root, True, ())]
    while stack:
        entry = stack.pop()
        if entry.is_dir:
            stack.extend(reversed(walker.children(entry)))
        else:
            yield entry.path


class _Walker:
    """What one walk remembers: its root, its size limit and the folders it has seen."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self.max_bytes = max_bytes
        self.visited: set[tuple[int, int]] = set()

    def children(self, folder: _Entry) -> list[_Entry]:
        """List a folder's entries worth visiting, sorted by name."""
        is_root = folder.path == self.root
        try:
            with os.scandir(folder.path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            log.warning("%s: folder skipped, cannot be read (%s)", folder.path, e.strerror or e)
            return []
        names = {e.name for e in entries}
        if not is_root and "pyvenv.cfg" in names:
            log.debug("%s: skipped, a Python virtual environment", folder.path)
            return []
        rules = folder.rules
        own = _read_rules(folder.path, names)
        if own is not None:
            rules = (*rules, own)
        children = []
        for entry in entries:
            name = entry.name
            if name.startswith("~$") or _hidden(entry):
                continue
            path = folder.path / name
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            if is_dir:
                if name in SKIPPED_DIRS or _ignored(rules, path, is_dir=True):
                    continue
                if not self.follow(path, symlink=entry.is_symlink()):
                    continue
                children.append(_Entry(path, True, rules))
            elif is_file:
                if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                    continue
                if _ignored(rules, path, is_dir=False) or _too_big(entry, self.max_bytes):
                    continue
                children.append(_Entry(path, False, rules))
        return children

    def follow(self, path: Path, *, symlink: bool) -> bool:
        """Say whether to enter a folder: once only, and symlinks only to outside the root.

        A symlink to a folder inside the root is skipped because the walk reaches the
        folder itself; one to outside is followed the first time only, which ends loops.
        """
        if symlink:
            target = Path(os.path.realpath(path))
            if target == self.real_root or self.real_root in target.parents:
                log.debug("%s: skipped, a symlink into the folder being walked", path)
                return False
        try:
            # os.stat, not DirEntry.stat: on Windows only it fills in the inode number.
            info = os.stat(path)
        except OSError:
            return False
        key = (info.st_dev, info.st_ino)
        if key in self.visited:
            log.debug("%s: skipped, folder already visited", path)
            return False
        self.visited.add(key)
        return True


def _hidden(entry: os.DirEntry[str]) -> bool:
    """Say whether an entry is hidden: a dot name, or Windows' hidden or system attribute."""
    if entry.name.startswith("."):
        return True
    if os.name != "nt":
        return False
    try:
        attributes = getattr(entry.stat(follow_symlinks=False), "st_file_attributes", 0)
    except OSError:
        return False
    return bool(attributes & (stat.FILE_ATTRIBUTE_HIDDEN | stat.FILE_ATTRIBUTE_SYSTEM))


def _too_big(entry: os.DirEntry[str], max_bytes: int) -> bool:
    """Say whether a file is over the size limit (or cannot be measured)."""
    try:
        size = entry.stat().st_size
    except OSError:
        return True
    if size > max_bytes:
        log.info("%s: skipped, %d bytes is over the %d byte limit", entry.path, size, max_bytes)
        return True
    return False


def _read_rules(folder: Path, names: set[str]) -> _Rules | None:
    """Return the patterns of a folder's ignore files, or None if it has none."""
    lines: list[str] = []
    for name in IGNORE_FILES:
        if name not in names:
            continue
        try:
            lines += (folder / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as e:
            log.warning("%s: cannot be read, not applied (%s)", folder / name, e.strerror or e)
    if not lines:
        return None
    return _Rules(folder, _spec(folder, lines))


def _spec(folder: Path, lines: list[str]) -> GitIgnoreSpec:
    """Compile ignore lines, dropping (and logging) any line pathspec rejects."""
    try:
        return GitIgnoreSpec.from_lines(lines)
    except _BAD_PATTERN:
        good = []
        for line in lines:
            try:
                GitIgnoreSpec.from_lines([line])
            except _BAD_PATTERN:
                log.warning("%s: ignore pattern %r is invalid, not applied", folder, line)
            else:
                good.append(line)
        return GitIgnoreSpec.from_lines(good)


def _ignored(rules: tuple[_Rules, ...], path: Path, *, is_dir: bool) -> bool:
    """Say whether the ignore rules exclude a path; deeper folders' rules take precedence."""
    for rule in reversed(rules):
        relative = path.relative_to(rule.base).as_posix() + ("/" if is_dir else "")
        result = rule.spec.check_file(relative)
        if result.include is not None:
            return bool(result.include)
    return False
