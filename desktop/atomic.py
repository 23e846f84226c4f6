"""Files written whole or not at all: the one way Folio replaces a file it owns.

The new content goes to a temporary file beside the target, is flushed to disk, and is
renamed over the target; the folder's entry is flushed too where the OS allows, so after
a crash or a power cut the target holds the old content or the new, never a mix or
nothing. (macOS's fsync leaves the data in the drive's cache: there the guarantee is the
drive's.) On any failure the temporary file is removed and the target is left as it was.
A download that resumes keeps its own partial file instead (desktop/models/pull.py).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

# Models are plain shared files whatever the user's umask (their writers ask for this).
SHARED = 0o644


@contextmanager
def replacing(target: Path, mode: int | None = None) -> Iterator[Path]:
    """A temporary path beside `target` for the caller to fill (by any means: a writer
    that opens the path itself is fine). When the block ends without an error the file is
    flushed to disk and renamed over `target`; when it raises, `target` is untouched and
    the temporary file removed. The file gets the permissions the user's umask gives new
    files, or `mode`."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_beside(target)
    try:
        yield tmp
        _flush(tmp)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
        _flush_folder(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(target: Path, data: bytes, mode: int | None = None) -> Path:
    """Replace `target` with `data`, whole or not at all."""
    with replacing(target, mode) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: Path, text: str, mode: int | None = None) -> Path:
    """Replace `target` with `text` (UTF-8), whole or not at all."""
    return write_bytes(target, text.encode("utf-8"), mode)


def leftovers(target: Path) -> list[Path]:
    """Temporary files of `target` that a killed process left behind (only its own
    writer may remove them: another process may be writing one now)."""
    target = Path(target)
    return sorted(target.parent.glob(f".{target.name}.*.part"))


def _create_beside(target: Path) -> Path:
    """A new empty file `.{name}.{random}.part` beside `target`, created with mode 0o666
    so the umask applies as it does to any new file (mkstemp would make it private)."""
    while True:
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue


def _flush(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _flush_folder(folder: Path) -> None:
    """Flush the folder's entry for the renamed file; best effort, as SQLite does it: the
    file is already in place, and some filesystems cannot sync a folder (network, FUSE,
    WSL mounts; a folder that can be written but not read). Windows cannot open one."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        log.debug("could not flush the folder %s: %s", folder, exc)
