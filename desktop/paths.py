"""Where Folio keeps things on disk, resolved once and then passed on explicitly.

`Locations` is a plain value: the clients (CLI, GUI) build it at start-up with
`Locations.from_environment()`, and every part of the core that reads or writes a file gets
the folder it needs from it. Nothing in the core looks at the environment afterwards.

`FOLIO_HOME` (read here only) moves everything (library, models, adapters, settings, logs)
under one folder; otherwise the platform's data, config and log folders are used.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from platformdirs import PlatformDirs

APP_DIRS = PlatformDirs("Folio", appauthor=False)


def bundle_root() -> Path:
    """The folder holding Folio's shipped resources (`models/`: catalog, adapters, defaults).

    The repository's root when run from source, the bundle's folder when frozen by
    PyInstaller: the one place that tells the two apart.
    """
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


def bundled_models_dir() -> Path:
    """The `models/` folder shipped beside the code (catalog, default models, adapters)."""
    return bundle_root() / "models"


@dataclass(frozen=True)
class Locations:
    """Every folder Folio uses.

    Attributes:
        data_dir: the library, downloaded models and user adapters live under it.
        config_dir: settings and window state.
        log_dir: the rotating log file.
        bundled_models: the shipped `models/` folder.
        models_dir: the user's models folder when set in settings (None: under data_dir).
    """

    data_dir: Path
    config_dir: Path
    log_dir: Path
    bundled_models: Path
    models_dir: Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Locations:
        """The locations for this user: `FOLIO_HOME` if set, else the platform folders."""
        env = os.environ if environ is None else environ
        home = env.get("FOLIO_HOME")
        if home:
            root = Path(home).expanduser()
            return cls(root, root, root / "logs", bundled_models_dir())
        return cls(
            Path(APP_DIRS.user_data_dir),
            Path(APP_DIRS.user_config_dir),
            Path(APP_DIRS.user_log_dir),
            bundled_models_dir(),
        )

    @classmethod
    def under(cls, root: Path) -> Locations:
        """Everything under one folder (what `FOLIO_HOME` does; used by tests and selftest)."""
        root = Path(root)
        return cls(root, root, root / "logs", bundled_models_dir())

    def with_models_dir(self, folder: str | Path | None) -> Locations:
        """The same locations with the user's models folder set ("" or None: the default)."""
        return replace(self, models_dir=Path(folder).expanduser() if folder else None)

    @property
    def library(self) -> Path:
        """The default library file."""
        return self.data_dir / "library.sqlite"

    @property
    def user_models_dir(self) -> Path:
        """Where downloaded and imported models go."""
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    @property
    def models_search_path(self) -> tuple[Path, ...]:
        """Folders searched for model files, the user's own first."""
        return (self.user_models_dir, self.bundled_models)

    @property
    def user_adapters_dir(self) -> Path:
        return self.data_dir / "adapters"

    @property
    def adapter_dirs(self) -> tuple[tuple[Path, str], ...]:
        """Folders searched for adapters with their source label, the user's first."""
        return ((self.user_adapters_dir, "user"), (self.bundled_models / "adapters", "bundled"))

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def window_state_file(self) -> Path:
        return self.config_dir / "window.ini"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "folio.log"
