"""The log file (rotating, under paths.log_dir()) and the text of Help → Copy diagnostics."""

from __future__ import annotations

import logging
import logging.handlers
import platform
import sys
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from desktop import __version__, paths
from desktop.settings import Settings

LOG_NAME = "folio.log"
LOG_BYTES = 1_000_000
LOG_BACKUPS = 3
_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def log_path() -> Path:
    return paths.log_dir() / LOG_NAME


def setup_logging(level: int = logging.INFO) -> Path:
    """Send Folio's log to a rotating file (1 MB × 4); returns its path. Safe to call twice."""
    path = log_path()
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_folio", False):
            if Path(getattr(old, "baseFilename", "")) == path:
                return path
            root.removeHandler(old)
            old.close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError:  # a read-only home must not stop the window from opening
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.setLevel(level)
    handler._folio = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level > level or root.level == logging.NOTSET:
        # The file wants INFO; a console handler set up without a level (the CLI's) would
        # then print INFO too, so it keeps showing warnings only.
        for other in root.handlers:
            if other is not handler and other.level == logging.NOTSET:
                other.setLevel(max(root.level, logging.WARNING))
        root.setLevel(level)
    return path


def close_logging() -> None:
    """Detach Folio's file handler (tests open many windows under different homes)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_folio", False):
            root.removeHandler(handler)
            handler.close()


def recent_log(lines: int = 40) -> str:
    try:
        text = log_path().read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - any failure just means "unknown"
        return "not installed"


def diagnostics_text(
    settings: Settings,
    library: Path,
    counts: Mapping[str, Any],
    engine_info: Mapping[str, Any],
    qt_version: str,
) -> str:
    """Everything a bug report needs, and no document text."""
    lines = [
        f"Folio {__version__}",
        f"Python {platform.python_version()} on {platform.platform()} ({platform.machine()})",
        f"Qt {qt_version}; PySide6 {_version('PySide6-Essentials')}; "
        f"llama-cpp-python {_version('llama_cpp_python')}; fastembed {_version('fastembed')}",
        f"Library: {library}",
        "Library counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
        "Model: " + (", ".join(f"{k} {v}" for k, v in engine_info.items()) or "not loaded"),
        "Models folders: " + ", ".join(str(p) for p in paths.models_search_path()),
        f"Adapters folder: {paths.user_adapters_dir()}",
        "Settings: " + ", ".join(f"{k}={v!r}" for k, v in asdict(settings).items()),
        f"Log file: {log_path()}",
        "",
        "Recent log:",
        recent_log(),
    ]
    return "\n".join(lines)
