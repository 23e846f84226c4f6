"""Parse, embed and store files, with parsing and embedding running side by side.

Parsing happens in worker processes (`desktop.ingest.pool`), embedding on one background
thread (ONNX Runtime releases the GIL, so both cores work), and storing on the calling
thread, which owns the library connection. A chunk whose reuse key (embedding model + text)
is already stored, or already waiting for the embedder, is never embedded again. Chunks go
to the embedder in groups sorted by length, so a batch pads little. A document is written,
in one transaction, once every one of its chunks has a vector; a crash before that leaves
its previous version (or nothing) in place.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop.cancel import CancelToken
from desktop.embed.base import Embedder
from desktop.ingest.pool import ParsePool
from desktop.ingest.types import ChunkDraft
from desktop.ingest.walk import display_path
from desktop.ingest.worker import Parsed
from desktop.library.chunk_keys import embed_key, embedding_text
from desktop.library.store import Library

log = logging.getLogger(__name__)

#: Chunks handed to the embedding thread at once (sorted by length, then cut into batches).
EMBED_GROUP = 128
#: Parsed chunks allowed to wait for vectors before parsing pauses (bounds memory).
MAX_WAITING_CHUNKS = 4096
#: Most batch size x (sequence length)^2 in one embedder call. Attention's activations grow
#: with the square of the length, and ONNX Runtime's arena keeps the largest it has seen:
#: batches of 32-64 chunks of ~256 tokens took the indexer past 1 GB. So long chunks go
#: in small batches (4 of 256 tokens), short ones in larger ones (up to MAX_BATCH).
#: `folio bench index`, 200 SciFact abstracts (500 chunks), quiet: batches of 8 peaked at
#: 629 MB, of 4 at 527 MB, at the same speed (9.45 and 9.71 chunks/s).
ATTENTION_BUDGET = 4 * 256 * 256
MAX_BATCH = 64


def budget_batches(lengths: Sequence[int]) -> list[list[int]]:
    """Indices of `lengths` (token counts) in length order, cut into batches within budget."""
    batches: list[list[int]] = []
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda k: lengths[k]):
        size = len(batch) + 1
        if batch and (size > MAX_BATCH or size * lengths[i] ** 2 > ATTENTION_BUDGET):
            batches.append(batch)
            batch = []
        batch.append(i)
    if batch:
        batches.append(batch)
    return batches


def embed_bucketed(embedder: Embedder, texts: Sequence[str], lengths: Sequence[int]) -> np.ndarray:
    """Embed `texts` in length-bucketed, memory-budgeted batches; vectors in input order."""
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for batch in budget_batches(lengths):
        out[batch] = embedder.embed_batch([texts[i] for i in batch])
    return out


def token_estimate(chunk: ChunkDraft) -> int:
    """Tokens the embedder will see for a chunk: its own, its heading's (about one per three
    characters of a heading) and [CLS]/[SEP]."""
    own = chunk.tokens or len(chunk.text) // 3
    heading = len(chunk.heading) // 3 + 1 if chunk.heading else 0
    return own + heading + 2


@dataclass
class FileJob:
    """A file to parse and store, with what the scan learnt about it."""

    folder_id: int
    path: Path
    size: int
    mtime: float
    digest: str
    is_new: bool


@dataclass
class _Doc:
    job: FileJob
    parsed: Parsed
    keys: list[str]
    vectors: np.ndarray
    missing: int


@dataclass
class PipelineStats:
    """What a pipeline run did, for the report."""

    added: int = 0
    updated: int = 0
    chunks: int = 0
    embedded: int = 0
    reused: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)


class Pipeline:
    """Runs a list of `FileJob`s through parse -> embed -> store.

    Args:
        on_file: called after each file is stored or failed, with the chunks it stored.
    """

    def __init__(
        self,
        library: Library,
        embedder: Embedder,
        pool: ParsePool,
        cancel: CancelToken,
        on_file: Callable[[str, int, bool], None],
    ) -> None:
        self.library = library
        self.embedder = embedder
        self.pool = pool
        self.cancel = cancel
        self.on_file = on_file
        self.stats = PipelineStats()
        self._jobs: deque[FileJob] = deque()
        self._want: dict[str, list[tuple[_Doc, int]]] = {}
        self._texts: dict[str, str] = {}
        self._lengths: dict[str, int] = {}
        self._queue: list[str] = []
        self._waiting_chunks = 0
        self._future: Future[np.ndarray] | None = None
        self._group: list[str] = []

    def run(self, jobs: Sequence[FileJob]) -> PipelineStats:
        """Process every job; returns the totals. Stored work survives a raised Cancelled."""
        self._jobs.extend(jobs)
        with ThreadPoolExecutor(1, thread_name_prefix="folio-embed") as executor:
            try:
                while self._jobs or self.pool.pending or self._want or self._future:
                    self.cancel.check()
                    self._feed()
                    self._collect_vectors(wait=not self.pool.pending)
                    for key, result in self.pool.poll(0.02 if self._future else 0.2):
                        assert isinstance(key, FileJob)
                        self._parsed(key, result)
                    self._start_embedding(executor)
            finally:
                if self._future is not None:
                    self._future.cancel()
        return self.stats

    # -- parsing ---------------------------------------------------------------------------
    def _feed(self) -> None:
        """Keep every worker busy (one file queued behind each) while memory allows."""
        while (
            self._jobs
            and self.pool.pending < 2 * self.pool.limits.worker_count()
            and self._waiting_chunks < MAX_WAITING_CHUNKS
        ):
            job = self._jobs.popleft()
            self.pool.submit(job, job.path)

    def _parsed(self, job: FileJob, result: Parsed | str) -> None:
        name = display_path(job.path)
        if isinstance(result, str):
            self._failed(job, result)
            return
        if not result.chunks:
            self._failed(job, f"{name}: no text found")
            return
        model = self.embedder.model_id
        keys = [embed_key(model, embedding_text(c)) for c in result.chunks]
        doc = _Doc(
            job,
            result,
            keys,
            np.zeros((len(keys), self.embedder.dim), dtype=np.float32),
            len(keys),
        )
        known = self.library.vectors_for_keys(k for k in keys if k not in self._want)
        for i, (chunk, key) in enumerate(zip(result.chunks, keys, strict=True)):
            vector = known.get(key)
            if vector is not None:
                doc.vectors[i] = vector
                doc.missing -= 1
                self.stats.reused += 1
            elif key in self._want:
                self._want[key].append((doc, i))
                self.stats.reused += 1
            else:
                self._want[key] = [(doc, i)]
                self._texts[key] = embedding_text(chunk)
                self._lengths[key] = token_estimate(chunk)
                self._queue.append(key)
        self._waiting_chunks += doc.missing
        if doc.missing == 0:
            self._store(doc)

    def _failed(self, job: FileJob, reason: str) -> None:
        key = display_path(job.path)
        if not os.path.lexists(job.path):
            self._forget_vanished(key)
        else:
            self.library.record_failure(job.folder_id, key, job.size, job.mtime, reason)
            self.stats.failed.append((key, reason))
        self.on_file(key, 0, False)

    # -- embedding -------------------------------------------------------------------------
    def _start_embedding(self, executor: ThreadPoolExecutor) -> None:
        if self._future is not None or not self._queue:
            return
        parsing = bool(self._jobs) or self.pool.pending > 0
        if parsing and len(self._queue) < EMBED_GROUP:
            return  # wait for a fuller group: fewer, better-packed batches
        self._group, self._queue = self._queue[:EMBED_GROUP], self._queue[EMBED_GROUP:]
        texts = [self._texts[k] for k in self._group]
        lengths = [self._lengths[k] for k in self._group]
        self._future = executor.submit(embed_bucketed, self.embedder, texts, lengths)

    def _collect_vectors(self, *, wait: bool) -> None:
        future = self._future
        if future is None:
            return
        if not future.done():
            if not wait:
                return
            try:
                future.result(timeout=0.2)
            except FutureTimeout:
                return
        self._future = None
        vectors = future.result()
        self.stats.embedded += len(self._group)
        for key, vector in zip(self._group, vectors, strict=True):
            del self._texts[key], self._lengths[key]
            for doc, i in self._want.pop(key):
                doc.vectors[i] = vector
                doc.missing -= 1
                self._waiting_chunks -= 1
                if doc.missing == 0:
                    self._store(doc)
        self._group = []

    def _forget_vanished(self, key: str) -> None:
        """A file deleted while it was being read: nothing to index, and nothing to keep."""
        self.stats.vanished.append(key)
        record = self.library.document(key)
        if record is not None:
            self.library.remove_document(record.id)

    # -- storing ---------------------------------------------------------------------------
    def _store(self, doc: _Doc) -> None:
        job, parsed = doc.job, doc.parsed
        key = display_path(job.path)
        if not os.path.lexists(job.path):
            self._forget_vanished(key)
            self.on_file(key, 0, False)
            return
        self.library.store_document(
            job.folder_id,
            key,
            job.size,
            job.mtime,
            job.digest,
            parsed.pages,
            parsed.chunks,
            doc.vectors,
            keys=doc.keys,
            notes=parsed.notes,
        )
        n = len(parsed.chunks)
        self.stats.chunks += n
        if job.is_new:
            self.stats.added += 1
        else:
            self.stats.updated += 1
        for note in parsed.notes:
            self.stats.notes.append((key, note))
        self.on_file(key, n, True)
