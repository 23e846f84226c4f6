"""User settings, persisted as JSON in the config folder; shared by the CLI and the GUI."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, TypeGuard

from desktop.library.modes import MODES, Mode, is_mode
from desktop.rag.modes import ANSWER_MODES, AnswerMode, is_answer_mode

log = logging.getLogger(__name__)

Theme = Literal["system", "light", "dark"]
THEMES: tuple[Theme, ...] = ("system", "light", "dark")


def is_theme(value: object) -> TypeGuard[Theme]:
    return value in THEMES


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
    # records the embedder of its vectors and refuses another (desktop/embed/fingerprint.py).
    embedding_url: str = ""
    embedding_server_model: str = ""

    def __post_init__(self) -> None:
        if not is_theme(self.theme):
            raise ValueError(f"theme must be one of {THEMES}")
        if not is_mode(self.search_mode):
            raise ValueError(f"search mode must be one of {MODES}")
        if not is_answer_mode(self.answer_mode):
            raise ValueError(f"the answer mode must be one of {ANSWER_MODES}")
        if not 32 <= self.chunk_tokens <= 512:
            raise ValueError("chunk size must be between 32 and 512 tokens")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ValueError("chunk overlap must be below half the chunk size")
        if not 1 <= self.k <= 20:
            raise ValueError("passages per answer must be between 1 and 20")
        if self.threads < 0:
            raise ValueError("threads must be 0 (automatic) or more")
        if (
            self.gpu_layers.strip().lower() != "auto"
            and not self.gpu_layers.strip().lstrip("-").isdigit()
        ):
            raise ValueError("GPU layers must be 'auto' or a whole number")
        if not 1 <= self.max_answer_tokens <= 4096:
            raise ValueError("the answer length must be between 1 and 4096 tokens")
        if not 1 <= self.parse_timeout_s <= 3600:
            raise ValueError("the parse time limit must be between 1 and 3600 seconds")
        if not 256 <= self.parse_memory_mb <= 65536:
            raise ValueError("the parse memory limit must be between 256 and 65536 MB")
        if not 1 <= self.max_file_mb <= 65536:
            raise ValueError("the file size limit must be between 1 and 65536 MB")
        if not 1 <= self.max_text_mb <= 4096:
            raise ValueError("the text size limit must be between 1 and 4096 MB")
        if not 0 <= self.parse_workers <= 16:
            raise ValueError("parse workers must be 0 (automatic) to 16")
        if not 0.0 <= self.style_scale <= 2.0:
            raise ValueError("the style's strength must be between 0 and 2")
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(settings), indent=2), encoding="utf-8")
    os.replace(tmp, path)
