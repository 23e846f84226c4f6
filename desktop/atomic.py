"""Files written whole or not at all: the one way Folio replaces a file it owns.

The new content goes to a temporary file beside the target, is flushed to disk, and is
renamed over the target; the folder's entry is flushed too (POSIX), so after a crash or a
power cut the target holds the old content or the new, never a mix or nothing. On any
failure the temporary file is removed and the target is left as it was. (A download that
resumes keeps its own partial file instead: desktop/models/pull.py.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Plain shared files, as most of Folio's are (mkstemp makes them private).
SHARED = 0o644


@contextmanager
def replacing(target: Path, mode: int = SHARED) -> Iterator[Path]:
    """A temporary path beside `target` for the caller to fill (by any means: a writer
    that opens the path itself is fine). When the block ends without an error the file is
    flushed to disk, given `mode` and renamed over `target`; when it raises, `target` is
    untouched and the temporary file removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _flush(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
        _flush_folder(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(target: Path, data: bytes, mode: int = SHARED) -> Path:
    """Replace `target` with `data`, whole or not at all."""
    with replacing(target, mode) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: Path, text: str, mode: int = SHARED) -> Path:
    """Replace `target` with `text` (UTF-8), whole or not at all."""
    return write_bytes(target, text.encode("utf-8"), mode)


def _flush(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _flush_folder(folder: Path) -> None:
    """Flush the folder's entry for the renamed file (POSIX only: Windows cannot open a
    folder, and its rename is already durable once it returns)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
