"""Checks on zip-based documents (docx, pptx, xlsx, odt, epub) before any parser opens them.

A zip member's uncompressed size is declared in the archive's directory, so a zip bomb is
refused here in microseconds, with that reason, instead of after gigabytes of inflating.
Python's zipfile never inflates a member past its declared size (it then fails the CRC),
so a lying directory only gets as far as the declared limit.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from desktop.errors import ExtractionError
from desktop.ingest.limits import MB, IngestLimits


def check_archive(path: Path, limits: IngestLimits, kind: str) -> zipfile.ZipFile:
    """Open a zip-based document after checking every member's declared size.

    Args:
        path: the document.
        limits: `max_member_bytes` caps one member, and four times it all of them together.
        kind: what the document is, for messages ("Word document").

    Returns:
        The open archive (the caller closes it, or just checks and closes it).

    Raises:
        ExtractionError: not a zip (so not a valid document of that kind), or a member too big.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise ExtractionError(f"{path}: not a valid {kind} (not a zip archive)") from None
    except OSError as e:
        raise ExtractionError(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        _check_members(path, archive, limits)
    except BaseException:
        archive.close()
        raise
    return archive


def _check_members(path: Path, archive: zipfile.ZipFile, limits: IngestLimits) -> None:
    total = 0
    limit = limits.max_member_bytes
    for info in archive.infolist():
        if info.file_size > limit:
            raise ExtractionError(
                f"{path}: its part {info.filename} would expand to "
                f"{info.file_size / MB:,.0f} MB, over the {limit / MB:,.0f} MB limit for one "
                "part (a zip bomb, or far more text than the text limit in Settings allows)"
            )
        total += info.file_size
    if total > 4 * limit:
        raise ExtractionError(
            f"{path}: its parts would expand to {total / MB:,.0f} MB together, over the "
            f"{4 * limit / MB:,.0f} MB limit (a zip bomb, or far more than the text limit allows)"
        )


def read_member(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    """Read one member (already size-checked), turning zip damage into an ExtractionError."""
    try:
        return archive.read(name)
    except KeyError:
        raise ExtractionError(f"{path}: the archive has no {name} (damaged document)") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
        raise ExtractionError(f"{path}: the archive is damaged ({name}: {e})") from None
