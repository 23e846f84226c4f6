"""User settings, persisted as JSON beside the library; shared by the CLI and the GUI."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from desktop import paths

log = logging.getLogger(__name__)

THEMES = ("system", "light", "dark")
SEARCH_MODES = ("hybrid", "vector", "keyword")


@dataclass(frozen=True)
class Settings:
    """Everything a user can change. Checked on construction; bad stored values fall back."""

    chat_model: str = "smollm2-135m-instruct"
    embedding_model: str = "all-minilm-l6-v2-int8"
    models_dir: str = ""  # "" = the platform default
    threads: int = 0  # 0 = automatic
    gpu_layers: str = "auto"  # "auto", "0" or a number of layers
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    k: int = 5
    search_mode: str = "hybrid"
    theme: str = "system"
    max_answer_tokens: int = 384

    def __post_init__(self) -> None:
        if self.theme not in THEMES:
            raise ValueError(f"theme must be one of {THEMES}")
        if self.search_mode not in SEARCH_MODES:
            raise ValueError(f"search mode must be one of {SEARCH_MODES}")
        if not 32 <= self.chunk_tokens <= 512:
            raise ValueError("chunk size must be between 32 and 512 tokens")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ValueError("chunk overlap must be below half the chunk size")
        if not 1 <= self.k <= 20:
            raise ValueError("passages per answer must be between 1 and 20")
        if self.threads < 0:
            raise ValueError("threads must be 0 (automatic) or more")
        if self.gpu_layers != "auto" and not self.gpu_layers.lstrip("-").isdigit():
            raise ValueError("GPU layers must be 'auto' or a whole number")

    def gpu_layer_count(self, gpu_available: bool) -> int:
        """Layers to offload: all when a GPU build is present and 'auto', else the number."""
        if self.gpu_layers == "auto":
            return -1 if gpu_available else 0
        return int(self.gpu_layers)

    def with_changes(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def load(path: Path | None = None) -> Settings:
    """Read settings; a missing or damaged file gives the defaults (and a log line)."""
    path = path or paths.settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("settings file %s unreadable (%s): using defaults", path, exc)
        return Settings()
    known = {f.name for f in fields(Settings)}
    values = {k: v for k, v in raw.items() if k in known}
    try:
        return Settings(**values)
    except (TypeError, ValueError) as exc:
        log.warning("settings file %s has a bad value (%s): using defaults", path, exc)
        return Settings()


def save(settings: Settings, path: Path | None = None) -> None:
    """Write settings atomically (a crash mid-write keeps the old file)."""
    path = path or paths.settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")
    os.replace(tmp, path)
