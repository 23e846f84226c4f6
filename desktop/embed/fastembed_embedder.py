"""The production embedder: an ONNX model folder loaded by fastembed, fully offline."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from desktop.embed.base import Embedder
from desktop.errors import ModelError


class FastEmbedEmbedder(Embedder):
    """fastembed's TextEmbedding over a local folder (`specific_model_path`), never the hub.

    Args:
        model_id: the catalog id, recorded in libraries built with it.
        fastembed_name: the architecture fastembed knows (pooling, normalisation).
        folder: holds model.onnx and its tokenizer files.
        dim: vector dimension.
        threads: ONNX Runtime intra-op threads (None: all cores).
        model_file: the ONNX file inside `folder` (fastembed expects its own name for it).
    """

    def __init__(
        self,
        model_id: str,
        fastembed_name: str,
        folder: Path,
        dim: int,
        threads: int | None = None,
        model_file: str = "model.onnx",
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from fastembed import TextEmbedding

        if not (folder / model_file).is_file():
            raise ModelError(f"embedding model missing: {folder / model_file}")
        self.model_id = model_id
        self.dim = dim
        self.folder = folder
        self._tokenizer: Tokenizer | None = None
        self._tokenizer_lock = threading.Lock()
        try:
            # ONNX Runtime's CPU arena keeps the largest batch's buffers for the life of the
            # session; without it they are returned after each batch (see docs/BENCHMARKS.md:
            # peak RSS while indexing, and the embedding speed beside it).
            self._model = TextEmbedding(
                fastembed_name,
                specific_model_path=str(folder),
                threads=threads,
                lazy_load=False,
                enable_cpu_mem_arena=False,
            )
        except Exception as exc:  # fastembed raises bare ValueError/RuntimeError for bad files
            raise ModelError(f"cannot load embedding model from {folder}: {exc}") from exc

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(
            list(self._model.embed(list(texts), batch_size=max(1, len(texts)))), dtype=np.float32
        )
        return self.checked(vectors, len(texts))

    def tokenizer(self) -> Tokenizer:
        with self._tokenizer_lock:
            if self._tokenizer is None:
                from desktop.ingest.chunker import load_tokenizer

                self._tokenizer = load_tokenizer(self.folder)
            return self._tokenizer

    def embed_query(self, text: str) -> np.ndarray:
        vectors = list(self._model.query_embed(text))
        return np.asarray(vectors[0], dtype=np.float32)
