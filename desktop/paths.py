"""Where Folio keeps things on disk: platform directories, overridable for tests and users.

`FOLIO_HOME` moves everything (library, models, adapters, settings, logs) under one folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from platformdirs import PlatformDirs

_DIRS = PlatformDirs("Folio", appauthor=False)


def home() -> Path:
    """The root of Folio's per-user data (library, downloaded models, adapters)."""
    env = os.environ.get("FOLIO_HOME")
    return Path(env).expanduser() if env else Path(_DIRS.user_data_dir)


def default_library_path() -> Path:
    return home() / "library.sqlite"


def user_models_dir() -> Path:
    env = os.environ.get("FOLIO_MODELS_DIR")
    return Path(env).expanduser() if env else home() / "models"


def user_adapters_dir() -> Path:
    return home() / "adapters"


def settings_path() -> Path:
    env = os.environ.get("FOLIO_HOME")
    base = Path(env).expanduser() if env else Path(_DIRS.user_config_dir)
    return base / "settings.json"


def log_dir() -> Path:
    env = os.environ.get("FOLIO_HOME")
    return (Path(env).expanduser() / "logs") if env else Path(_DIRS.user_log_dir)


def bundled_models_dir() -> Path:
    """The `models/` folder shipped beside the code: the repo's, or the PyInstaller bundle's."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "models"
    return Path(__file__).resolve().parent.parent / "models"


def models_search_path() -> list[Path]:
    """Folders searched for model files, the user's own first."""
    return [user_models_dir(), bundled_models_dir()]
