"""Checking model files against their sha256, with a stamp so a file is hashed only once.

Hashing a 2 GB model takes seconds, so the result is remembered in a `.verified.json` stamp
beside the file, keyed by name and valid while the file's size, mtime and inode are
unchanged. Writing the stamp is best effort: a read-only bundle just hashes again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from desktop import atomic
from desktop.errors import ModelError

if TYPE_CHECKING:
    from desktop.json_types import JSONObject

log = logging.getLogger(__name__)

STAMP_NAME = ".verified.json"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file: what the hub reports as ETag for files not in LFS."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _key(st: os.stat_result) -> dict[str, int]:
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def _read_stamp(folder: Path) -> JSONObject:
    try:
        data = json.loads((folder / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_stamp(folder: Path, entries: JSONObject) -> None:
    try:
        text = json.dumps(entries, indent=1, sort_keys=True)
        atomic.write_text(folder / STAMP_NAME, text, atomic.SHARED)
    except OSError as exc:  # read-only folder: the stamp is only a cache
        log.debug("cannot write %s in %s: %s", STAMP_NAME, folder, exc)


def stamped_sha256(path: Path) -> str | None:
    """The sha256 recorded for `path` if the stamp still matches the file, else None."""
    entry = _read_stamp(path.parent).get(path.name)
    if not isinstance(entry, dict):
        return None
    try:
        key = _key(path.stat())
    except OSError:
        return None
    if all(entry.get(k) == v for k, v in key.items()) and isinstance(entry.get("sha256"), str):
        return str(entry["sha256"])
    return None


def record(path: Path, sha256: str) -> None:
    """Remember that `path`, as it is now, has this sha256 (it was just hashed)."""
    entries = _read_stamp(path.parent)
    entries[path.name] = {**_key(path.stat()), "sha256": sha256}
    _write_stamp(path.parent, entries)


def file_sha256(path: Path, *, rehash: bool = False) -> str:
    """The file's sha256: from its stamp when still valid (unless `rehash`), else hashed now."""
    if not rehash:
        cached = stamped_sha256(path)
        if cached is not None:
            return cached
    digest = sha256_file(path)
    record(path, digest)
    return digest


def matches(path: Path, expected: str) -> bool:
    """Whether `path` exists and has the expected sha256 (stamp used when valid)."""
    return path.is_file() and file_sha256(path) == expected


def require_sha256(path: Path, expected: str, *, delete: bool = False) -> None:
    """Raise ModelError unless `path` has the expected sha256; optionally delete a bad file."""
    actual = sha256_file(path)
    if actual != expected:
        if delete:
            path.unlink(missing_ok=True)
        gone = " and was deleted" if delete else ""
        raise ModelError(
            f"{path.name} is corrupt{gone}: sha256 {actual[:16]}… does not match the expected "
            f"{expected[:16]}…"
        )
    record(path, actual)


Status = Literal["ok", "mismatch", "missing", "unchecked"]


@dataclass(frozen=True)
class FileCheck:
    """The result of re-hashing one installed file."""

    path: Path
    expected: str  # "" when neither the catalog nor a previous check knows the sha256
    actual: str  # "" when the file is missing
    status: Status


def check_file(path: Path, expected: str) -> FileCheck:
    """Re-hash `path` (ignoring the stamp) and compare with `expected`.

    With no expected value, the sha256 recorded when the file was last verified (after a
    pull checked it against the hub) is the reference: a change since then is a mismatch.
    """
    if not path.is_file():
        return FileCheck(path, expected, "", "missing")
    reference = expected or _recorded_sha256(path)
    actual = sha256_file(path)
    if not reference:
        record(path, actual)
        return FileCheck(path, "", actual, "unchecked")
    if actual == reference:
        record(path, actual)
        return FileCheck(path, reference, actual, "ok")
    return FileCheck(path, reference, actual, "mismatch")


def _recorded_sha256(path: Path) -> str:
    """The sha256 last recorded for `path`, even if the file changed since."""
    entry = _read_stamp(path.parent).get(path.name)
    if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
        return str(entry["sha256"])
    return ""
