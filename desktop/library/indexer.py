"""Incremental indexing: walk folders, skip what is unchanged, follow renames by content hash,
drop what was deleted, and send the rest through the parse/store/embed pipeline: text and
keywords first (searchable at once), then the vectors of every chunk still without one,
this run's and any an interrupted run left.

One run holds the library's index lock, so a second indexer (another `folio index`, the
watcher) waits instead of doing the same work twice. Progress goes to a plain callback and
cancellation comes through a `CancelToken`, so the CLI (tqdm) and the GUI (Qt signals on a
worker thread) drive the same code.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tokenizers import Tokenizer

from desktop.cancel import CancelToken
from desktop.embed.base import Embedder
from desktop.errors import FolioError
from desktop.ingest.limits import IngestLimits
from desktop.ingest.pool import ParsePool, borrow, give_back
from desktop.ingest.walk import PathFilter, Skipped, display_path, iter_documents
from desktop.library import pending, subpath
from desktop.library import vectors as vector_index
from desktop.library.chunk_keys import embedding_text
from desktop.library.index_types import Changes, IndexProgress, IndexReport
from desktop.library.lock import IndexLock
from desktop.library.pipeline import FileJob, Pipeline
from desktop.library.store import DocumentRecord, Library

__all__ = ["Changes", "IndexProgress", "IndexReport", "Indexer", "embedding_text", "file_digest"]

log = logging.getLogger(__name__)


ProgressFn = Callable[[IndexProgress], None]


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Indexer:
    """Keeps a library in step with folders on disk.

    Args:
        limits: per-file limits and parse worker count (default: the defaults in Settings).
        keep_workers: keep the parse workers between runs (the watcher syncs often).
    """

    def __init__(
        self,
        library: Library,
        embedder: Embedder,
        tokenizer: Tokenizer,
        chunk_tokens: int = 200,
        overlap_tokens: int = 40,
        limits: IngestLimits | None = None,
        *,
        keep_workers: bool = False,
    ) -> None:
        library.bind_embedder(embedder.model_id, embedder.dim)
        self.library = library
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.chunk_tokens = chunk_tokens
        self.overlap_tokens = overlap_tokens
        self.limits = limits or IngestLimits()
        self.keep_workers = keep_workers
        self._pool: ParsePool | None = None
        self.lock = IndexLock(library.path)

    def close(self) -> None:
        """Hand the parse workers back (kept warm a while for the next run; see `pool`)."""
        if self._pool is not None:
            give_back(self._pool)
            self._pool = None

    # -- entry points ----------------------------------------------------------------------
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
        roots = [Path(r).expanduser() for r in roots]
        for root in roots:
            if not root.exists():
                raise FolioError(f"no such file or folder: {root}")
        run = _Run(self, progress, cancel or CancelToken())
        return run.locked(lambda: run.index_roots([r.resolve() for r in roots]))

    def sync(
        self,
        root: Path,
        changes: Changes,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> IndexReport:
        """Apply what a watcher saw under the indexed folder `root`, touching only those paths
        (a full, incremental walk of `root` when `changes.rescan` asks for one)."""
        run = _Run(self, progress, cancel or CancelToken())
        if changes.rescan or not root.is_dir():
            return run.locked(lambda: run.index_roots([root]))
        return run.locked(lambda: run.apply(root, changes))

    # -- shared by runs --------------------------------------------------------------------
    def pool(self) -> ParsePool:
        if self._pool is None:
            self._pool = borrow(self.tokenizer, self.chunk_tokens, self.overlap_tokens, self.limits)
        return self._pool

    def folder_for(self, root: Path) -> int:
        """The folder row covering `root`: an existing ancestor root, or a new one."""
        for folder_id, path in self.library.folders():
            if root == Path(path) or Path(path) in root.parents:
                return folder_id
        return self.library.add_folder(root)


class _Run:
    """One indexing run: its progress, its report, and the steps that fill them."""

    def __init__(self, indexer: Indexer, progress: ProgressFn | None, cancel: CancelToken):
        self.indexer = indexer
        self.library = indexer.library
        self.progress = progress
        self.cancel = cancel
        self.started = time.perf_counter()
        self.state = IndexProgress()
        self.report = IndexReport()
        self.jobs: list[FileJob] = []
        self.indexed_folders: list[int] = []
        self._counted_at = 0.0

    def tick(self, **changes: object) -> None:
        for key, value in changes.items():
            setattr(self.state, key, value)
        self.state.elapsed_s = time.perf_counter() - self.started
        if self.progress is not None:
            self.progress(self.state)

    def locked(self, work: Callable[[], None]) -> IndexReport:
        lock = self.indexer.lock
        lock.acquire(self.cancel, lambda message: self.tick(phase="waiting", current=message))
        lock.mark_holder()
        try:
            work()
            self._pipeline()
            for folder_id in self.indexed_folders:
                self.library.mark_folder_indexed(folder_id)
            if self.library.embedder() is not None:
                with self.library.db:  # more cells once the library has grown (rarely)
                    vector_index.refit_if_grown(self.library.db)
        finally:
            lock.release()
            if not self.indexer.keep_workers:
                self.indexer.close()
        self.report.seconds = time.perf_counter() - self.started
        self._count_vectors(force=True)
        self.tick(phase="done", current="")
        return self.report

    # -- full scans ------------------------------------------------------------------------
    def index_roots(self, roots: list[Path]) -> None:
        """Walk each root; plan the changed files; follow renames; drop deleted files."""
        candidates: list[tuple[int, Path, os.stat_result, DocumentRecord | None]] = []
        missing: dict[str, DocumentRecord] = {}
        self.indexer.pool().start()  # the workers boot while the folders are walked
        for root in roots:
            folder_id = self.indexer.folder_for(root)
            self.tick(phase="scanning", current=str(root))
            skipped: list[Skipped] = []
            found: list[Path] = []
            stats: dict[str, os.stat_result] = {}
            for path in iter_documents(
                root, max_bytes=self.indexer.limits.max_file_bytes, skipped=skipped, stats=stats
            ):
                if len(found) % 256 == 0:
                    self.cancel.check()
                found.append(path)
            self._skipped(folder_id, root, skipped)
            records = {
                p: r
                for p, r in self.library.documents_in(folder_id).items()
                if subpath.is_under(p, str(root))
            }
            present = set()
            for path in found:
                key = display_path(path)
                present.add(key)
                record = records.get(key)
                try:
                    st = stats.get(str(path)) or path.stat()
                except OSError as exc:
                    self._unreadable(folder_id, path, None, exc)
                    continue
                if _settled(record, st):
                    self.report.unchanged += 1
                    continue
                candidates.append((folder_id, path, st, record))
            missing.update({p: r for p, r in records.items() if p not in present})
            if root.is_dir():
                self.indexed_folders.append(folder_id)
        self._plan(candidates, missing)
        self.tick(
            phase="indexing",
            files_total=len(self.jobs) + self.report.unchanged,
            files_done=self.report.unchanged,
            files_skipped=self.report.unchanged,
        )

    def _skipped(self, folder_id: int, root: Path, skipped: list[Skipped]) -> None:
        if not root.is_dir():
            return
        self.library.replace_skipped(
            folder_id, root, [(s.path, s.reason, s.is_dir) for s in skipped]
        )
        self.report.skipped += [(s.path, s.reason) for s in skipped]

    def _plan(
        self,
        candidates: list[tuple[int, Path, os.stat_result, DocumentRecord | None]],
        missing: dict[str, DocumentRecord],
    ) -> None:
        """Hash the changed files: same content is touched, a missing document's content at
        a new path is a rename; the rest becomes parse jobs. Then drop what is gone."""
        by_hash: dict[str, DocumentRecord] = {
            r.content_hash: r for r in missing.values() if r.content_hash and r.status == "indexed"
        }
        for folder_id, path, st, record in candidates:
            self.cancel.check()
            key = display_path(path)
            try:
                digest = file_digest(path)
            except OSError as exc:
                self._unreadable(folder_id, path, st, exc)
                continue
            if record is not None and record.content_hash == digest and record.status == "indexed":
                self.library.touch_document(record.id, st.st_size, st.st_mtime)
                self.report.unchanged += 1
                continue
            moved = by_hash.pop(digest, None) if record is None else None
            if moved is not None:
                self.library.move_document(moved.id, folder_id, key, st.st_size, st.st_mtime)
                missing.pop(moved.path, None)
                self.report.renamed += 1
                continue
            self.jobs.append(
                FileJob(folder_id, path, st.st_size, st.st_mtime, digest, record is None)
            )
        for record in missing.values():
            self.library.remove_document(record.id)
            self.report.removed += 1

    def _unreadable(
        self, folder_id: int, path: Path, st: os.stat_result | None, exc: OSError
    ) -> None:
        """A file the scan listed but cannot read: gone since (vanished), or failed."""
        key = display_path(path)
        if not os.path.lexists(path):
            self.report.vanished.append(key)
            return
        why = "permission denied" if isinstance(exc, PermissionError) else exc.strerror or exc
        error = f"{key}: cannot be read ({why})"
        size, mtime = (st.st_size, st.st_mtime) if st is not None else (0, 0.0)
        self.library.record_failure(folder_id, key, size, mtime, error)
        self.report.failed.append((key, error))

    # -- watcher changes -------------------------------------------------------------------
    def apply(self, root: Path, changes: Changes) -> None:
        """Apply a watcher's changes under `root` without walking it."""
        folder_id = self.indexer.folder_for(root)
        limits = self.indexer.limits
        check = PathFilter(root, limits.max_file_bytes)
        changed = set(changes.changed)
        for path in changes.deleted:
            self.report.removed += self.library.remove_documents_under(folder_id, str(path))
        for source, target in changes.moved:
            self._move(folder_id, source, target, changed)
        candidates: list[tuple[int, Path, os.stat_result, DocumentRecord | None]] = []
        for path in sorted(changed):
            key = display_path(path)
            skip = check.check(path)
            if skip is not None:
                self.report.removed += self.library.remove_documents_under(folder_id, key)
                if skip.reason:
                    self.library.replace_skipped(
                        folder_id, Path(skip.path), [(skip.path, skip.reason, skip.is_dir)]
                    )
                    self.report.skipped.append((skip.path, skip.reason))
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            record = self.library.document(key)
            if _settled(record, st):
                self.report.unchanged += 1
                continue
            candidates.append((folder_id, path, st, record))
        self._plan(candidates, {})
        self.tick(phase="indexing", files_total=len(self.jobs), files_done=0)

    def _move(self, folder_id: int, source: Path, target: Path, changed: set[Path]) -> None:
        """A rename seen by the watcher: move the stored documents, embed nothing."""
        old = display_path(source)
        record = self.library.document(old)
        if record is None:
            # A folder, or a file not indexed before: folders move document by document.
            inside = [
                doc
                for doc in self.library.documents_in(folder_id).values()
                if subpath.is_under(doc.path, str(source)) and doc.path != old
            ]
            for doc in inside:
                self._move_one(folder_id, doc, target / Path(doc.path).relative_to(source), changed)
            if not inside:
                changed.add(target)
            return
        self._move_one(folder_id, record, target, changed)

    def _move_one(
        self, folder_id: int, record: DocumentRecord, target: Path, changed: set[Path]
    ) -> None:
        try:
            st = target.stat()
        except OSError:
            self.library.remove_document(record.id)
            self.report.removed += 1
            return
        self.library.move_document(
            record.id, folder_id, display_path(target), st.st_size, st.st_mtime
        )
        self.report.renamed += 1
        changed.add(target)  # re-checked: unchanged size and mtime make it a no-op

    # -- parse, store, embed ---------------------------------------------------------------
    def _count_vectors(self, *, force: bool = False) -> None:
        """Refresh "embedded N of M" (at most every half second: it counts the chunks)."""
        now = time.perf_counter()
        if not force and now - self._counted_at < 0.5:
            return
        self._counted_at = now
        embedding = self.library.embedding()
        self.state.chunks_embedded = embedding.embedded
        self.state.chunks_total = embedding.chunks

    def _pipeline(self) -> None:
        if not self.jobs and not pending.count(self.library.db):
            return
        if self.state.phase != "indexing":
            self.tick(phase="indexing", files_total=len(self.jobs))

        def on_file(path: str, chunks: int, stored: bool) -> None:
            if not stored:
                self.state.files_failed += 1
            self.state.chunks_done += chunks
            self.tick(files_done=self.state.files_done + 1, current=path)

        def on_vectors(parsing: bool) -> None:
            self._count_vectors(force=not parsing and self.state.phase == "indexing")
            self.tick(phase="indexing" if parsing else "embedding")

        pool = self.indexer.pool()
        embedder = self.indexer.embedder
        pipeline = Pipeline(
            self.library, embedder, pool, self.cancel, on_file, self.report, on_vectors
        )
        try:
            pipeline.run(self.jobs)
        finally:
            self.report.parse_peak_rss = max(self.report.parse_peak_rss, pool.peak_rss)


def _settled(record: DocumentRecord | None, st: os.stat_result) -> bool:
    """Whether a stored record still describes the file: same size and modification time.
    A file that could not be read at all is tried again every time (a permission fixed by
    chmod changes no mtime)."""
    if record is None or (record.size, record.mtime) != (st.st_size, st.st_mtime):
        return False
    return record.status == "indexed" or "cannot be read (" not in (record.error or "")
