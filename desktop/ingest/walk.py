"""Find the documents under a folder, and say why every other file or folder was skipped.

What is skipped, each with a reason a person can act on (`Skipped`): paths matched by
`.gitignore` or `.folioignore` (gitignore syntax, matched by pathspec, in any folder for that
folder's subtree), default ignores (version control, dependency, virtual environment and
build output folders; binaries), files over the size limit, unsupported file types, folders
that cannot be read, broken symlinks and symlink loops, names that are not valid UTF-8, and
paths longer than the system allows. Hidden files and folders (a dot name, or Windows'
hidden attribute) and Office lock files (`~$*`) are left out silently: nobody expects them.

`PathFilter` answers the same question for one path, for the folder watcher.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from desktop.errors import ExtractionError
from desktop.ingest.ignore_rules import Rules, ignored, read_rules
from desktop.ingest.kinds import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)

#: Folders never entered (besides hidden ones): dependencies, caches, virtual environments.
SKIPPED_DIRS = frozenset(
    {"node_modules", "bower_components", "__pycache__", "venv", "site-packages", "CVS"}
)
#: Build output folders, skipped where a project file beside them says they are one.
BUILD_DIRS = {
    "build": ("setup.py", "pyproject.toml", "CMakeLists.txt", "build.gradle", "package.json"),
    "dist": ("setup.py", "pyproject.toml", "package.json"),
    "target": ("Cargo.toml", "pom.xml", "build.sbt"),
    "out": ("build.gradle", "package.json", "tsconfig.json"),
}
#: Suffixes of files that are binaries, not documents (named as such when skipped).
BINARY_SUFFIXES = frozenset(
    ".exe .dll .so .dylib .o .a .lib .obj .class .jar .war .pyc .pyo .whl .egg .bin .dat "
    ".iso .img .dmg .zip .gz .tgz .bz2 .xz .7z .rar .tar .png .jpg .jpeg .gif .bmp .tif "
    ".tiff .webp .ico .heic .mp3 .wav .flac .ogg .m4a .mp4 .mov .avi .mkv .webm .ttf .otf "
    ".woff .woff2 .sqlite .db .onnx .gguf .pt .safetensors .npy .pkl .parquet".split()
)
DEFAULT_MAX_BYTES = 200 * 2**20
_PATH_MAX = 4096 if os.name != "nt" else 260


@dataclass(frozen=True)
class Skipped:
    """A file or folder left out of the index, and why (a sentence for the user)."""

    path: str
    reason: str
    is_dir: bool = False


def display_path(path: Path | str) -> str:
    """A path as text that can always be stored and shown: bytes that are not valid UTF-8
    appear as `\\xNN` escapes instead of breaking the database or the window."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", errors="backslashreplace")
    return text


def iter_documents(
    root: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    skipped: list[Skipped] | None = None,
    stats: dict[str, os.stat_result] | None = None,
) -> Iterator[Path]:
    """Yield the supported documents under `root`, in sorted order; `root` itself if a file.

    A file given as `root` is yielded as is, so that extraction can say why it cannot be
    read. Under a folder, everything left out is appended to `skipped` (when given) with
    its reason, except hidden entries and Office lock files. `stats`, when given, receives
    each yielded file's stat (by its path as a string), saving the caller a second one.

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
    walker = _Walker(root, max_bytes, skipped if skipped is not None else [], stats)
    walker.visited.add((info.st_dev, info.st_ino))
    stack = [_Entry(root, True, ())]
    while stack:
        entry = stack.pop()
        if entry.is_dir:
            stack.extend(reversed(walker.children(entry)))
        else:
            yield entry.path


@dataclass(frozen=True)
class _Entry:
    """A file or folder still to visit, with the ignore rules of the folders above it."""

    path: Path
    is_dir: bool
    rules: tuple[Rules, ...]


class _Walker:
    """What one walk remembers: its root, its size limit, the folders seen, what it skipped."""

    def __init__(
        self,
        root: Path,
        max_bytes: int,
        skipped: list[Skipped],
        stats: dict[str, os.stat_result] | None = None,
    ) -> None:
        self.root = root
        self.stats = stats
        self.real_root = Path(os.path.realpath(root))
        self.max_bytes = max_bytes
        self.visited: set[tuple[int, int]] = set()
        self.skipped = skipped

    def skip(self, path: Path, reason: str, is_dir: bool = False) -> None:
        self.skipped.append(Skipped(display_path(path), reason, is_dir))

    def children(self, folder: _Entry) -> list[_Entry]:
        """List a folder's entries worth visiting, sorted by name."""
        try:
            with os.scandir(folder.path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            log.warning("%s: folder skipped, cannot be read (%s)", folder.path, e.strerror or e)
            self.skip(folder.path, _os_reason(folder.path, e, "folder"), is_dir=True)
            return []
        names = {e.name for e in entries}
        if folder.path != self.root and "pyvenv.cfg" in names:
            self.skip(folder.path, "a Python virtual environment (ignored by default)", True)
            return []
        rules = folder.rules
        own = read_rules(folder.path, names)
        if own is not None:
            rules = (*rules, own)
        children = []
        for entry in entries:
            child = self._child(folder.path, entry, names, rules)
            if child is not None:
                children.append(child)
        return children

    def _child(
        self, parent: Path, entry: os.DirEntry[str], names: set[str], rules: tuple[Rules, ...]
    ) -> _Entry | None:
        name = entry.name
        if name.startswith("~$") or _hidden(entry):
            return None
        path = parent / name
        if not _valid_utf8(name):
            self.skip(path, "its name is not valid UTF-8 text; rename it to index it")
            return None
        if len(entry.path) * 4 >= _PATH_MAX and len(os.fsencode(entry.path)) >= _PATH_MAX:
            self.skip(path, _too_long(path))
            return None
        try:
            is_dir = entry.is_dir()
            is_file = not is_dir and entry.is_file()
        except OSError as e:
            self.skip(path, _os_reason(path, e, "entry"))
            return None
        if entry.is_symlink() and not is_dir and not is_file and not os.path.exists(path):
            self.skip(path, "a broken symbolic link or a symlink loop")
            return None
        if is_dir:
            reason = ignored(rules, path, is_dir=True) or _default_dir_ignore(name, names)
            if reason:
                self.skip(path, reason, is_dir=True)
                return None
            if not self.follow(path, symlink=entry.is_symlink()):
                return None
            return _Entry(path, True, rules)
        if not is_file:
            self.skip(path, "not a regular file (a device, pipe or socket)")
            return None
        reason = ignored(rules, path, is_dir=False) or _file_reason(path, entry, self.max_bytes)
        if reason:
            self.skip(path, reason)
            return None
        if self.stats is not None:
            self.stats[entry.path] = entry.stat()  # cached by the size check just made
        return _Entry(path, False, rules)

    def follow(self, path: Path, *, symlink: bool) -> bool:
        """Say whether to enter a folder: once only, and symlinks only to outside the root.

        A symlink to a folder inside the root is skipped because the walk reaches the
        folder itself; one to outside is followed the first time only, which ends loops.
        """
        if symlink:
            target = Path(os.path.realpath(path))
            if target == self.real_root or self.real_root in target.parents:
                self.skip(path, f"a symbolic link back into the indexed folder ({target})", True)
                return False
        try:
            # os.stat, not DirEntry.stat: on Windows only it fills in the inode number.
            info = os.stat(path)
        except OSError as e:
            self.skip(path, _os_reason(path, e, "folder"), is_dir=True)
            return False
        key = (info.st_dev, info.st_ino)
        if key in self.visited:
            self.skip(path, "a symbolic link to a folder already indexed (a loop)", True)
            return False
        self.visited.add(key)
        return True


class PathFilter:
    """Says whether one path under an indexed folder would be indexed, for the watcher.

    It applies the same rules as the walk (ignore files of every folder from the root down,
    default ignores, hidden names, suffix and size), reading ignore files as it needs them.
    """

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def check(self, path: Path) -> Skipped | None:
        """None if the file `path` would be indexed, else what is skipped (the file, or the
        folder above it that is) and why; a reason of "" is a silent skip (hidden names)."""
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return Skipped(display_path(path), "")
        rules: tuple[Rules, ...] = ()
        folder = self.root
        names = _names(folder)
        for part in relative.parts[:-1]:
            own = read_rules(folder, names)
            if own is not None:
                rules = (*rules, own)
            siblings, folder = names, folder / part
            names = _names(folder)
            if part.startswith((".", "~$")):
                return Skipped(display_path(folder), "", True)
            reason = ignored(rules, folder, is_dir=True) or _default_dir_ignore(part, siblings)
            if not reason and "pyvenv.cfg" in names:
                reason = "a Python virtual environment (ignored by default)"
            if reason:
                return Skipped(display_path(folder), reason, True)
        own = read_rules(folder, names)
        if own is not None:
            rules = (*rules, own)
        key = display_path(path)
        if path.name.startswith((".", "~$")):
            return Skipped(key, "")
        if not _valid_utf8(path.name):
            return Skipped(key, "its name is not valid UTF-8 text; rename it to index it")
        try:
            entry = next(e for e in os.scandir(folder) if e.name == path.name)
        except (OSError, StopIteration):
            return Skipped(key, "")  # gone already: the deletion event follows
        if not entry.is_file():
            return Skipped(key, "" if entry.is_dir() else "not a regular file")
        reason = ignored(rules, path, is_dir=False) or _file_reason(path, entry, self.max_bytes)
        return Skipped(key, reason) if reason else None


def _names(folder: Path) -> set[str]:
    try:
        return set(os.listdir(folder))
    except OSError:
        return set()


def _valid_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _too_long(path: Path) -> str:
    return (
        f"the path is {len(os.fsencode(str(path))):,} bytes long, longer than the system "
        f"allows ({_PATH_MAX:,}); move it to a shorter path to index it"
    )


def _os_reason(path: Path, error: OSError, what: str) -> str:
    if error.errno == 36 or isinstance(error, OSError) and "too long" in str(error).lower():
        return _too_long(path)
    if error.errno == 40:  # ELOOP
        return "a symlink loop"
    if isinstance(error, PermissionError):
        return f"the {what} cannot be read (permission denied)"
    return f"the {what} cannot be read ({error.strerror or error})"


def _default_dir_ignore(name: str, siblings: set[str]) -> str | None:
    if name in SKIPPED_DIRS:
        return f"a dependency or cache folder ({name}), ignored by default"
    markers = BUILD_DIRS.get(name)
    if markers and any(m in siblings for m in markers):
        return (
            f"build output ({name} beside {next(m for m in markers if m in siblings)}), "
            "ignored by default"
        )
    return None


def _file_reason(path: Path, entry: os.DirEntry[str], max_bytes: int) -> str | None:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        if suffix in BINARY_SUFFIXES:
            return f"a binary file ({suffix}), not a document"
        kind = f"'{path.suffix}'" if path.suffix else "(no extension)"
        return f"unsupported file type {kind}"
    try:
        size = entry.stat().st_size
    except OSError as e:
        return _os_reason(path, e, "file")
    if size > max_bytes:
        return (
            f"{size / 2**20:,.0f} MB is over the {max_bytes / 2**20:,.0f} MB file size limit "
            "set in Settings (max_file_mb)"
        )
    return None


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
