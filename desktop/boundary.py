"""The error boundary: what a client tells a person about anything that stopped the work.

Both clients call `classify` on whatever escapes the core. There are three kinds:

- the user's own cancel (`Cancelled`, Ctrl+C): said plainly, not an error;
- the user's or the environment's problem: a `FolioError`, or an SQLite failure of the
  library (disk full, busy, read-only, disk error, damaged, newer schema: see
  `desktop.library.db.library_error`), or an OS error that names a file (no space, no
  permission, read-only disk). One clear line, naming the file;
- Folio's own bug: anything else. Its traceback goes to the log file, and the person gets one
  line that says where the details are.

The CLI prints the message and exits with the outcome's code; the GUI shows it in a dialog.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import apsw

from desktop.errors import Cancelled, FolioError, LibraryError
from desktop.library.db import library_error
from desktop.logs import BUG_LOGGER

log = logging.getLogger(BUG_LOGGER)

Kind = Literal["cancelled", "user", "bug"]

EXIT_USER = 1
EXIT_BUG = 70  # EX_SOFTWARE from sysexits.h: an internal error
EXIT_CANCELLED = 130  # what a shell reports for Ctrl+C


@dataclass(frozen=True)
class Outcome:
    """How a piece of work ended, for the person who asked for it.

    Attributes:
        kind: "cancelled", "user" (a problem they can act on) or "bug" (ours).
        message: one line, fit to show as is.
        exit_code: for the CLI.
    """

    kind: Kind
    message: str
    exit_code: int


_OS_ERRORS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
}


def user_error(exc: BaseException, library: Path | None = None) -> FolioError | None:
    """The problem `exc` stands for, as the user should hear it, or None if it is a bug.

    Args:
        exc: what escaped the core.
        library: the library file in use, named in messages about SQLite failures.
    """
    if isinstance(exc, FolioError):
        return exc
    if isinstance(exc, apsw.Error):
        return library_error(exc, library or Path("in use"))
    if isinstance(exc, OSError) and exc.errno in _OS_ERRORS:
        where = f": {exc.filename}" if exc.filename else ""
        return FolioError(f"{_OS_ERRORS[exc.errno]}{where}")
    if isinstance(exc, MemoryError):
        return FolioError(
            "Folio ran out of memory; close other programs, or lower the number of passages "
            "and the chunk size in Settings"
        )
    return None


def classify(
    exc: BaseException, library: Path | None = None, log_file: Path | None = None
) -> Outcome:
    """Sort `exc` into an Outcome; a bug is logged with its traceback first.

    Args:
        exc: what escaped the core.
        library: the library in use, for messages about SQLite failures.
        log_file: where the log goes, named in the message about a bug.
    """
    if isinstance(exc, (Cancelled, KeyboardInterrupt)):
        return Outcome("cancelled", "cancelled", EXIT_CANCELLED)
    problem = user_error(exc, library)
    if problem is not None:
        if isinstance(problem, LibraryError) and problem is not exc:
            log.info("library failure shown to the user: %r", exc)
        return Outcome("user", str(problem), EXIT_USER)
    log.error("bug: %s: %s", type(exc).__name__, exc, exc_info=exc)
    where = f"the log file {log_file}" if log_file else "Folio's log file"
    detail = " ".join(str(exc).split())[:200]
    summary = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return Outcome(
        "bug",
        f"something went wrong inside Folio ({summary}). Your documents and library are "
        f"safe. The details were written to {where}; please include it in a bug report.",
        EXIT_BUG,
    )
