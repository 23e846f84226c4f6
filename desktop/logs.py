"""Folio's log: a rotating file that keeps every bug's traceback, for both clients."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

LOG_BYTES = 1_000_000
LOG_BACKUPS = 3
_FORMAT = "%(asctime)s %(levelname)s %(process)d %(threadName)s %(name)s: %(message)s"
_MARK = "_folio_log_file"
_CONSOLE_MARK = "_folio_console"
#: The logger the error boundary writes bugs to: their tracebacks go to the file only.
BUG_LOGGER = "folio.bug"


def _not_a_bug(record: logging.LogRecord) -> bool:
    return record.name != BUG_LOGGER


def setup_console(verbose: bool = False) -> None:
    """Show warnings (everything with `verbose`) on stderr, never a bug's traceback. Idempotent."""
    root = logging.getLogger()
    level = logging.DEBUG if verbose else logging.WARNING
    for handler in root.handlers:
        if getattr(handler, _CONSOLE_MARK, False):
            handler.setLevel(level)
            return
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    console.addFilter(_not_a_bug)
    setattr(console, _CONSOLE_MARK, True)
    root.addHandler(console)
    if verbose or root.level == logging.NOTSET or root.level > level:
        root.setLevel(min(level, root.level or level))


def setup_logging(log_file: Path, level: int = logging.INFO) -> Path:
    """Send the log to a rotating file (1 MB x 4) at `log_file`; returns it. Idempotent.

    A file that cannot be created (a read-only home) falls back to stderr, so logging never
    stops Folio from starting. Console handlers added without a level keep showing
    warnings only.
    """
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _MARK, False):
            if Path(getattr(old, "baseFilename", "")) == Path(log_file):
                return log_file
            root.removeHandler(old)
            old.close()
    handler: logging.Handler
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            log_file, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(level)
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        for other in root.handlers:
            if other is not handler and other.level == logging.NOTSET:
                other.setLevel(max(root.level, logging.WARNING))
        root.setLevel(level)
    return log_file


def close_logging() -> None:
    """Detach Folio's file handler (tests open many windows under different homes)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()


def recent_log(log_file: Path, lines: int = 40) -> str:
    """The last lines of the log, for diagnostics."""
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])
