"""User settings, persisted as JSON in the config folder; shared by the CLI and the GUI."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, TypeGuard

from desktop import atomic
from desktop.library.modes import MODES, Mode, is_mode
from desktop.rag.modes import ANSWER_MODES, AnswerMode, is_answer_mode
from desktop.ranges import Range, check_ranges

log = logging.getLogger(__name__)

Theme = Literal["system", "light", "dark"]
THEMES: tuple[Theme, ...] = ("system", "light", "dark")


def is_theme(value: object) -> TypeGuard[Theme]:
    return value in THEMES


# The numbers a user sets, each with its range (the Settings dialog offers the same).
RANGES = {
    "chunk_tokens": Range(32, 512, "chunk size", " tokens"),
    "k": Range(1, 20, "passages per answer"),
    "max_answer_tokens": Range(1, 4096, "the answer length", " tokens"),
    "parse_timeout_s": Range(1, 3600, "the parse time limit", " seconds"),
    "parse_memory_mb": Range(256, 65536, "the parse memory limit", " MB"),
    "max_file_mb": Range(1, 65536, "the file size limit", " MB"),
    "max_text_mb": Range(1, 4096, "the text size limit", " MB"),
    "parse_workers": Range(0, 16, "parse workers", zero="automatic"),
    "style_scale": Range(0, 2, "the style's strength"),
}


@dataclass(frozen=True)
class Settings:
    """Everything a user can change. Checked on construction; bad stored values fall back.

    `gpu_layers` is kept as the user wrote it ("auto", "0", "12"); the composition root
    resolves it once (`desktop.engine.gpu.resolve_gpu_layers`) into a layer count.
    """

    chat_model: str = "smollm2-135m-instruct"
    embedding_model: str = "all-minilm-l6-v2-int8"
    models_dir: str = ""  # "" = the platform default
    threads: int = 0  # 0 = automatic
    gpu_layers: str = "auto"  # "auto", "0" or a number of layers
    chunk_tokens: int = 200
    chunk_overlap: int = 40
    k: int = 5
    search_mode: Mode = "hybrid"
    theme: Theme = "system"
    max_answer_tokens: int = 384
    # Ingestion limits (desktop/ingest/limits.py): each file is parsed in a worker process.
    parse_timeout_s: float = 60.0
    parse_memory_mb: int = 1024
    max_file_mb: int = 200
    max_text_mb: int = 10
    parse_workers: int = 0  # 0 = automatic
    ocr: bool = False  # read scanned pages with the optional OCR extra (folio[ocr])
    watch_folders: bool = True  # keep indexed folders in step while the window is open
    # How answers are made. Quoting the passage sentence that answers (desktop/rag/quote.py)
    # is the default: on 200 XQuAD questions (`folio eval answers`, docs/BENCHMARKS.md) it
    # holds the answer far more often than anything the default model writes, and faster.
    answer_mode: AnswerMode = "quote"
    # The style adapter the model writes with ("" = None, the model's own style); "write"
    # answers only. None is the default: no shipped adapter beat the base model on
    # citations and refusals together (same benchmark).
    style: str = ""
    style_scale: float = 1.0
    # A serving engine (docs/server.md): "" answers on this computer (the default). Its API
    # key is kept in the OS keyring (desktop/engine/secrets.py), never here.
    engine_url: str = ""
    engine_model: str = ""  # "" = the model the server serves
    # Embeddings through a server's /v1/embeddings ("" = the local embedding model). A library
    # records the embedder of its vectors and refuses another (desktop/library/fingerprint.py).
    embedding_url: str = ""
    embedding_server_model: str = ""

    def __post_init__(self) -> None:
        if not is_theme(self.theme):
            raise ValueError(f"theme must be one of {THEMES}")
        if not is_mode(self.search_mode):
            raise ValueError(f"search mode must be one of {MODES}")
        if not is_answer_mode(self.answer_mode):
            raise ValueError(f"the answer mode must be one of {ANSWER_MODES}")
        check_ranges(self, RANGES)
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ValueError("chunk overlap must be below half the chunk size")
        if self.threads < 0:
            raise ValueError("threads must be 0 (automatic) or more")
        if (
            self.gpu_layers.strip().lower() != "auto"
            and not self.gpu_layers.strip().lstrip("-").isdigit()
        ):
            raise ValueError("GPU layers must be 'auto' or a whole number")
        for url in (self.engine_url, self.embedding_url):
            if url and not url.startswith(("http://", "https://")):
                raise ValueError("the engine URL must start with http:// or https://")

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some values changed (checked like any new Settings)."""
        return replace(self, **changes)


def load(path: Path) -> Settings:
    """Read settings; a missing or damaged file gives the defaults (and a log line)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings()
    except (OSError, ValueError) as exc:
        log.warning("settings file %s unreadable (%s): using defaults", path, exc)
        return Settings()
    if not isinstance(raw, dict):
        log.warning("settings file %s is not a JSON object: using defaults", path)
        return Settings()
    known = {f.name for f in fields(Settings)}
    values = {k: v for k, v in raw.items() if k in known}
    try:
        return Settings(**values)
    except (TypeError, ValueError, AttributeError) as exc:
        log.warning("settings file %s has a bad value (%s): using defaults", path, exc)
        return Settings()


def save(settings: Settings, path: Path) -> None:
    """Write settings atomically (a crash mid-write keeps the old file)."""
    atomic.write_text(path, json.dumps(asdict(settings), indent=2))
