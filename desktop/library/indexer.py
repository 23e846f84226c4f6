"""Incremental indexing: walk folders, skip what is unchanged, re-chunk what changed, drop
what was deleted, and store each document in its own transaction.

Progress goes to a plain callback and cancellation comes through a `CancelToken`, so the
CLI (tqdm) and the GUI (Qt signals on a worker thread) drive the same code.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tokenizers import Tokenizer

from desktop.cancel import CancelToken
from desktop.embed.base import Embedder
from desktop.errors import FolioError
from desktop.ingest.chunker import chunk
from desktop.ingest.extract import extract
from desktop.ingest.types import ChunkDraft
from desktop.ingest.walk import iter_documents
from desktop.library.store import Library

log = logging.getLogger(__name__)

# Chunks embedded together; documents are written once their chunks' vectors exist.
EMBED_BATCH_CHUNKS = 64


@dataclass
class IndexProgress:
    """A snapshot of indexing progress, sent to the progress callback."""

    files_total: int = 0
    files_done: int = 0
    files_skipped: int = 0
    files_failed: int = 0
    chunks_done: int = 0
    elapsed_s: float = 0.0
    current: str = ""
    phase: str = "scanning"  # scanning | indexing | done

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        work_done = self.files_done - self.files_skipped - self.files_failed
        remaining = self.files_total - self.files_done
        if work_done <= 0 or remaining <= 0:
            return None if remaining > 0 else 0.0
        return self.elapsed_s / work_done * remaining


@dataclass
class IndexReport:
    """What an indexing run did."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Pending:
    folder_id: int
    path: str
    size: int
    mtime: float
    digest: str
    pages: int | None
    chunks: list[ChunkDraft]
    is_new: bool


ProgressFn = Callable[[IndexProgress], None]


def embedding_text(chunk: ChunkDraft) -> str:
    """What the embedder sees: the chunk under its heading, so a passage deep in a section
    still carries the section's (or a text file's) title."""
    if chunk.heading and not chunk.text.startswith(chunk.heading):
        return f"{chunk.heading}\n\n{chunk.text}"
    return chunk.text


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Indexer:
    """Keeps a library in step with folders on disk."""

    def __init__(
        self,
        library: Library,
        embedder: Embedder,
        tokenizer: Tokenizer,
        chunk_tokens: int = 200,
        overlap_tokens: int = 40,
    ) -> None:
        library.bind_embedder(embedder.model_id, embedder.dim)
        self.library = library
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens

    def index(
        self,
        roots: Iterable[Path],
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> IndexReport:
        """Index files and folders; returns what changed.

        Raises:
            FolioError: a root does not exist.
            Cancelled: `cancel` was set; documents finished so far stay stored.
        """
        cancel = cancel or CancelToken()
        started = time.perf_counter()
        state = IndexProgress()
        report = IndexReport()

        def tick(**changes: object) -> None:
            for key, value in changes.items():
                setattr(state, key, value)
            state.elapsed_s = time.perf_counter() - started
            if progress is not None:
                progress(state)

        plan: list[tuple[int, Path]] = []
        folder_ids: list[int] = []
        for root in roots:
            root = Path(root).expanduser()
            if not root.exists():
                raise FolioError(f"no such file or folder: {root}")
            folder_id = self._folder_for(root.resolve())
            folder_ids.append(folder_id)
            tick(phase="scanning", current=str(root))
            found = []
            for path in iter_documents(root.resolve()):
                cancel.check()
                found.append(path)
            plan.extend((folder_id, p) for p in found)
            report.removed += self._remove_missing(folder_id, root.resolve(), found)
        tick(phase="indexing", files_total=len(plan))

        pending: list[_Pending] = []
        for folder_id, path in plan:
            cancel.check()
            tick(current=str(path))
            failures_before = len(report.failed)
            item = self._prepare(folder_id, path, report)
            if item is None:
                if len(report.failed) > failures_before:
                    state.files_failed += 1
                else:
                    state.files_skipped += 1
                tick(files_done=state.files_done + 1)
                continue
            pending.append(item)
            if sum(len(p.chunks) for p in pending) >= EMBED_BATCH_CHUNKS:
                self._flush(pending, report, state, tick)
                pending = []
        self._flush(pending, report, state, tick)
        for folder_id in folder_ids:
            self.library.mark_folder_indexed(folder_id)
        report.seconds = time.perf_counter() - started
        tick(phase="done", current="")
        return report

    def _folder_for(self, root: Path) -> int:
        """The folder row covering `root`: an existing ancestor root, or a new one."""
        for folder_id, path in self.library.folders():
            if root == Path(path) or Path(path) in root.parents:
                return folder_id
        return self.library.add_folder(root)

    def _remove_missing(self, folder_id: int, root: Path, found: Sequence[Path]) -> int:
        present = {str(p) for p in found}
        removed = 0
        for path, record in self.library.documents_in(folder_id).items():
            inside = Path(path) == root or root in Path(path).parents
            if inside and path not in present:
                self.library.remove_document(record.id)
                removed += 1
        return removed

    def _prepare(self, folder_id: int, path: Path, report: IndexReport) -> _Pending | None:
        key = str(path)
        try:
            st = path.stat()
        except OSError as exc:
            report.failed.append((key, f"cannot read: {exc.strerror or exc}"))
            return None
        record = self.library.document(key)
        if record is not None and record.size == st.st_size and record.mtime == st.st_mtime:
            report.unchanged += 1
            return None
        try:
            digest = file_digest(path)
        except OSError as exc:
            self._fail(folder_id, key, st, f"cannot read: {exc.strerror or exc}", report)
            return None
        if record is not None and record.content_hash == digest and record.status == "indexed":
            self.library.touch_document(record.id, st.st_size, st.st_mtime)
            report.unchanged += 1
            return None
        try:
            sections = extract(path)
            drafts = chunk(sections, self.tokenizer, self.chunk_tokens, self.overlap_tokens)
        except FolioError as exc:
            self._fail(folder_id, key, st, str(exc), report)
            return None
        except Exception as exc:  # a parser bug must cost one file, never the whole run
            log.exception("unexpected error reading %s", path)
            self._fail(folder_id, key, st, f"{path.name}: could not be read ({exc})", report)
            return None
        if not drafts:
            self._fail(folder_id, key, st, f"{path.name}: no text found", report)
            return None
        pages = max((s.page for s in sections if s.page is not None), default=None)
        return _Pending(
            folder_id, key, st.st_size, st.st_mtime, digest, pages, drafts, record is None
        )

    def _fail(
        self, folder_id: int, key: str, st: os.stat_result, error: str, report: IndexReport
    ) -> None:
        self.library.record_failure(folder_id, key, st.st_size, st.st_mtime, error)
        report.failed.append((key, error))

    def _flush(
        self,
        pending: list[_Pending],
        report: IndexReport,
        state: IndexProgress,
        tick: Callable[..., None],
    ) -> None:
        if not pending:
            return
        texts = [embedding_text(c) for p in pending for c in p.chunks]
        vectors = self.embedder.embed_many(texts)
        offset = 0
        for item in pending:
            n = len(item.chunks)
            self.library.store_document(
                item.folder_id,
                item.path,
                item.size,
                item.mtime,
                item.digest,
                item.pages,
                item.chunks,
                vectors[offset : offset + n],
            )
            offset += n
            report.chunks += n
            if item.is_new:
                report.added += 1
            else:
                report.updated += 1
            state.chunks_done += n
            tick(files_done=state.files_done + 1)
