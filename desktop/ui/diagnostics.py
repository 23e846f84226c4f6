"""The text of Help → Copy diagnostics: everything a bug report needs, and no document text."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import asdict

from desktop import __version__
from desktop.config import Config
from desktop.library.store import Library
from desktop.logs import recent_log


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:  # noqa: BLE001 - any failure just means "unknown"
        return "not installed"


def diagnostics_text(
    config: Config,
    counts: Mapping[str, object],
    engine_info: Mapping[str, object],
    qt_version: str,
) -> str:
    """Versions, folders, settings, library counts and the recent log."""
    where = config.locations
    lines = [
        f"Folio {__version__}",
        f"Python {platform.python_version()} on {platform.platform()} ({platform.machine()})",
        f"Qt {qt_version}; PySide6 {_version('PySide6-Essentials')}; "
        f"llama-cpp-python {_version('llama_cpp_python')}; fastembed {_version('fastembed')}",
        f"Library: {config.library_path}",
        "Library counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
        "Model: " + (", ".join(f"{k} {v}" for k, v in engine_info.items()) or "not loaded"),
        "Models folders: " + ", ".join(str(p) for p in where.models_search_path),
        f"Adapters folder: {where.user_adapters_dir}",
        "Settings: " + ", ".join(f"{k}={v!r}" for k, v in asdict(config.settings).items()),
        f"Log file: {where.log_file}",
        "",
        "Recent log:",
        recent_log(where.log_file),
    ]
    return "\n".join(lines)


def report_for(config: Config, library: Library, engine_info: Mapping[str, object]) -> str:
    """The report for an open library (its counts; the failure, if they cannot be read)."""
    from PySide6 import QtCore

    counts: dict[str, object]
    try:
        counts = dict(library.counts())
    except Exception as exc:  # noqa: BLE001 - the report must still be produced
        counts = {"error": str(exc)}
    return diagnostics_text(config, counts, engine_info, QtCore.qVersion())
