"""What the core is built from: the user's settings and folders, resolved once.

The composition root (desktop/session.py) builds every part from a `Config`, and the part
factories (desktop/components.py) read it; both import it from here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from desktop import settings as settings_mod
from desktop.library.db import DEFAULT_BUSY_TIMEOUT_MS
from desktop.paths import Locations
from desktop.settings import Settings


@dataclass(frozen=True)
class Config:
    """Everything the core is built from, resolved once.

    Attributes:
        settings: the user's settings.
        locations: the folders, with the settings' models folder applied.
        library_path: the library file.
        busy_timeout_ms: how long a library connection waits for another's write lock.
        engine_api_key: the serving engine's key given for this run (FOLIO_ENGINE_API_KEY),
            where no OS keyring holds it; None: the keyring's (desktop/engine/secrets.py).
    """

    settings: Settings
    locations: Locations
    library_path: Path
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
    engine_api_key: str | None = field(default=None, repr=False)

    @classmethod
    def resolve(
        cls,
        settings: Settings,
        locations: Locations,
        library_path: Path | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> Config:
        """Apply `settings` to `locations`; the library defaults to the locations' one."""
        where = locations.with_models_dir(settings.models_dir)
        library = Path(library_path).expanduser() if library_path else where.library
        return cls(settings, where, library, busy_timeout_ms)

    @classmethod
    def from_environment(cls, library_path: Path | None = None) -> Config:
        """The configuration of this user (for the clients' start-up only)."""
        locations = Locations.from_environment()
        config = cls.resolve(settings_mod.load(locations.settings_file), locations, library_path)
        key = os.environ.get("FOLIO_ENGINE_API_KEY")
        return replace(config, engine_api_key=key) if key else config

    def with_settings(self, settings: Settings) -> Config:
        """The same library and folders under new settings."""
        return replace(
            self, settings=settings, locations=self.locations.with_models_dir(settings.models_dir)
        )

    @cached_property
    def gpu_layers(self) -> int:
        """Layers to offload, the `auto` setting resolved against this llama.cpp build."""
        from desktop.engine.gpu import resolve_gpu_layers

        return resolve_gpu_layers(self.settings.gpu_layers)

    @property
    def threads(self) -> int | None:
        """CPU threads for the models (None: the parts' own sensible default)."""
        return self.settings.threads or None
