"""Parse and store files, then embed them, with parsing and embedding running side by side.

Parsing happens in worker processes (`desktop.ingest.pool`); each parsed document is
stored at once, on the calling thread (which owns the library connection), in one
transaction: its text, its keyword rows, and the vectors of the chunks whose reuse key
(embedding model + text) is already stored. So a folder is searchable by keyword within
seconds. The rest of its chunks wait for vectors on the `pending` list, which
`desktop.library.backfill` works through on background threads, the second phase: one
embedding call at a time while files are still parsed (the text comes first), every
core once they are all stored. Searches use whatever is embedded so far.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop.cancel import CancelToken
from desktop.embed.base import Embedder
from desktop.ingest.pool import ParsePool
from desktop.ingest.walk import display_path
from desktop.ingest.worker import Parsed
from desktop.library.backfill import Backfill
from desktop.library.chunk_keys import embed_key, embedding_text
from desktop.library.index_types import IndexReport
from desktop.library.store import Library

log = logging.getLogger(__name__)


@dataclass
class FileJob:
    """A file to parse and store, with what the scan learnt about it."""

    folder_id: int
    path: Path
    size: int
    mtime: float
    digest: str
    is_new: bool


class Pipeline:
    """Runs a list of `FileJob`s through parse -> store text -> embed.

    Args:
        on_file: called after each file is stored or failed, with the chunks it stored.
        report: the indexing run's report, to which the pipeline adds what it does (files
            added, updated, failed, vanished, noted; chunks stored, embedded, reused).
        on_vectors: called after each batch of vectors is stored, and once parsing ends.
    """

    def __init__(
        self,
        library: Library,
        embedder: Embedder,
        pool: ParsePool,
        cancel: CancelToken,
        on_file: Callable[[str, int, bool], None],
        report: IndexReport,
        on_vectors: Callable[[bool], None] | None = None,
    ) -> None:
        self.library = library
        self.embedder = embedder
        self.pool = pool
        self.cancel = cancel
        self.on_file = on_file
        self.report = report
        self.on_vectors = on_vectors
        self._jobs: deque[FileJob] = deque()

    def run(self, jobs: Sequence[FileJob]) -> None:
        """Process every job, then embed every chunk waiting for a vector (this run's and
        any an interrupted run left), adding to the report. Stored work survives a raised
        Cancelled."""
        self._jobs.extend(jobs)
        backfill = Backfill(self.library, self.embedder, self.report)
        threads = max(1, self.embedder.concurrency)
        with ThreadPoolExecutor(threads, thread_name_prefix="folio-embed") as executor:
            try:
                while self._jobs or self.pool.pending:
                    self.cancel.check()
                    self._feed()
                    for key, result in self.pool.poll(0.02 if backfill.running else 0.2):
                        assert isinstance(key, FileJob)
                        self._parsed(key, result)
                    if backfill.collect() and self.on_vectors is not None:
                        self.on_vectors(True)
                    backfill.start(executor, 1)  # the text first: one core embeds meanwhile
                if self.on_vectors is not None:
                    self.on_vectors(False)
                while backfill.busy():
                    self.cancel.check()
                    backfill.start(executor, threads)
                    if backfill.collect(timeout=0.2) and self.on_vectors is not None:
                        self.on_vectors(False)
            finally:
                backfill.abandon()

    # -- parsing ---------------------------------------------------------------------------
    def _feed(self) -> None:
        """Keep every worker busy (one file queued behind each)."""
        while self._jobs and self.pool.pending < 2 * self.pool.limits.worker_count():
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
        if not os.path.lexists(job.path):
            self._forget_vanished(name)
            self.on_file(name, 0, False)
            return
        model = self.embedder.model_id
        keys = [embed_key(model, embedding_text(c)) for c in result.chunks]
        known = self.library.vectors_for_keys(keys)
        vectors: dict[int, np.ndarray] = {i: known[k] for i, k in enumerate(keys) if k in known}
        self.report.reused += len(vectors)
        self.library.store_document(
            job.folder_id,
            name,
            job.size,
            job.mtime,
            job.digest,
            result.pages,
            result.chunks,
            vectors,
            keys=keys,
            notes=result.notes,
        )
        n = len(result.chunks)
        self.report.chunks += n
        if job.is_new:
            self.report.added += 1
        else:
            self.report.updated += 1
        for note in result.notes:
            self.report.notes.append((name, note))
        self.on_file(name, n, True)

    def _failed(self, job: FileJob, reason: str) -> None:
        key = display_path(job.path)
        if not os.path.lexists(job.path):
            self._forget_vanished(key)
        else:
            self.library.record_failure(job.folder_id, key, job.size, job.mtime, reason)
            self.report.failed.append((key, reason))
        self.on_file(key, 0, False)

    def _forget_vanished(self, key: str) -> None:
        """A file deleted while it was being read: nothing to index, and nothing to keep."""
        self.report.vanished.append(key)
        record = self.library.document(key)
        if record is not None:
            self.library.remove_document(record.id)
