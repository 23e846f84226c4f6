"""The production embedder: an ONNX model folder loaded by fastembed, fully offline.

One ONNX Runtime session, single-threaded, serves every caller: the indexer embeds
batches on as many threads as the machine has cores (`concurrency`), each call running
alone on its core, instead of one call spreading each small operator over every core.
Idle ONNX threads sleep instead of spinning: spinning threads burn a core while they wait,
which the parse workers and a search in the window need (a previous measurement: 100k
search p50 136 ms with spinning off against 189 ms with it on, at load ~12).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import Tokenizer

from desktop.embed.base import Embedder
from desktop.errors import ModelError

if TYPE_CHECKING:
    import onnxruntime as ort


class FastEmbedEmbedder(Embedder):
    """fastembed's TextEmbedding over a local folder (`specific_model_path`), never the hub.

    Args:
        model_id: the catalog id, recorded in libraries built with it.
        fastembed_name: the architecture fastembed knows (pooling, normalisation).
        folder: holds model.onnx and its tokenizer files.
        dim: vector dimension.
        threads: how many cores the embedder may use (None: all): that many calls of
            `embed_batch` run side by side (`concurrency`), each on one thread.
        model_file: the ONNX file inside `folder` (fastembed expects its own name for it).
        graph: the ONNX file the session runs, if not `folder / model_file`: the same model
            prepared for speed (`desktop.embed.graph.prepared`); `self.graph` is the file
            loaded.
    """

    def __init__(
        self,
        model_id: str,
        fastembed_name: str,
        folder: Path,
        dim: int,
        threads: int | None = None,
        model_file: str = "model.onnx",
        graph: Path | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from fastembed import TextEmbedding

        if not (folder / model_file).is_file():
            raise ModelError(f"embedding model missing: {folder / model_file}")
        self.model_id = model_id
        self.dim = dim
        self.folder = folder
        self.concurrency = max(1, threads or os.cpu_count() or 1)
        self._tokenizer: Tokenizer | None = None
        self._tokenizer_lock = threading.Lock()
        try:
            # ONNX Runtime's CPU arena keeps the largest batch's buffers for the life of the
            # session; without it they are returned after each batch (see docs/BENCHMARKS.md:
            # peak RSS while indexing, and the embedding speed beside it).
            self._model = TextEmbedding(
                fastembed_name,
                specific_model_path=str(folder),
                threads=1,
                lazy_load=True,  # the session is made below, once (two cost 90 MB of peak)
                enable_cpu_mem_arena=False,
            )
            self.graph = _load_graph(self._model, folder / model_file, graph)
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


def session_options() -> ort.SessionOptions:
    """One thread per call, no spinning, no arena, no memory pattern: every Folio embedding
    session's options."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.enable_cpu_mem_arena = False
    # The memory pattern plans one block for a batch's every intermediate tensor: 4 x 256
    # tokens peaked at 518 MB with it, 398 MB without, at the same speed (17.6-18.3
    # chunks/s either way, 1 thread, load 4.4). Two threads embed at once, so it counts twice.
    so.enable_mem_pattern = False
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return so


def _load_graph(model: object, source: Path, graph: Path | None) -> Path:
    """Load `graph` (the prepared copy of `source`), or `source` if there is none or it will
    not load (a cut-short cache file: it is discarded); returns the file loaded."""
    if graph is None or graph == source:
        _load_quiet_session(model, source)
        return source
    try:
        return graph if _load_quiet_session(model, graph) else source
    except Exception:  # noqa: BLE001 - any failure: the verified original is loaded
        from desktop.embed.graph import discard

        discard(graph, source)
        _load_quiet_session(model, source)
        return source


def _load_quiet_session(model: object, path: Path) -> bool:
    """Load fastembed's text model with a session made with `session_options` (fastembed
    passes its threads and arena setting on, but not the spinning ones). fastembed 0.9
    keeps the session at `TextEmbedding.model.model` and loads the tokenizer beside it in
    `_ensure_tokenizer`; a fastembed without them loads its own session (of the folder's
    model file, not `path`: returns False)."""
    import onnxruntime as ort

    inner = getattr(model, "model", None)
    ensure_tokenizer = getattr(inner, "_ensure_tokenizer", None)
    if inner is None or ensure_tokenizer is None:
        inner_load = getattr(inner, "load_onnx_model", None)
        if inner_load is not None:
            inner_load()
        return False
    inner.model = ort.InferenceSession(
        str(path), sess_options=session_options(), providers=["CPUExecutionProvider"]
    )
    ensure_tokenizer()
    return True
