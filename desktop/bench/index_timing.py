"""`folio bench index`'s two sides, each run in a fresh process (`desktop.bench.child`).

Folio's side indexes a folder as a dropped folder is indexed, while a probe thread on a
connection of its own watches the library the way a user's searches would see it: when
a keyword search first finds something, when every file's text is stored, and when every
chunk has its vector. The clock starts at the drop (the indexer's call; the embedding
model is loaded already, as in the window).

Each side also reports the CPU time its process used (`chunks_per_cpu_s`): on a shared
machine the wall clock measures the other jobs as much as Folio.

The naive side embeds the chunks Folio made of the same files, one batch of 32 after
another, nothing else: with fastembed as it comes (`naive`, the yardstick), and with
Folio's own quiet single-threaded session (`naive-quiet`, to tell the session's share
of the speed-up from the pipeline's).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.bench.child import CountingEmbedder, peak_rss_mb
from desktop.library import keywords, pending

if TYPE_CHECKING:
    from desktop.bench.results import Figures
    from desktop.library.store import Library
    from desktop.session import Session

PROBE_EVERY_S = 0.02
NAIVE_BATCH = 32


class Probe(threading.Thread):
    """Watches a library being indexed from its own connection; times are seconds from
    `started` (a perf_counter reading)."""

    def __init__(self, library: Path, query: str, files: int, started: float) -> None:
        super().__init__(name="folio-bench-probe", daemon=True)
        self.library = library
        self.query = query
        self.files = files
        self.started = started
        self.first_hit_s: float | None = None
        self.all_text_s: float | None = None
        self.embedded_s: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        from desktop.library.store import Library

        with Library(self.library) as lib:
            while not self.stop.is_set() and self.embedded_s is None:
                self._look(lib)
                self.stop.wait(PROBE_EVERY_S)

    def _look(self, lib: Library) -> None:
        now = time.perf_counter() - self.started
        # budget=None: no per-connection word counts, which a long-lived connection caches
        if self.first_hit_s is None and keywords.keyword_search(lib.db, self.query, 1, None):
            self.first_hit_s = now
        if self.all_text_s is None:
            row = lib.db.execute("SELECT count(*) FROM documents").fetchone()
            if row is not None and int(str(row[0])) >= self.files:
                self.all_text_s = now
        if self.all_text_s is not None and pending.count(lib.db) == 0:
            self.embedded_s = now


def _query(folder: Path) -> tuple[str, int]:
    """A keyword query (the first file's first words) and how many files there are."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    words = files[0].read_text(encoding="utf-8").split()[:8] if files else []
    return " ".join(words), len(files)


def folio(folder: Path, library: Path) -> Figures:
    """Folio's indexer over `folder`, timed from the drop; then again, unchanged."""
    from desktop.library.indexer import Indexer
    from desktop.session import Session

    query, files = _query(folder)
    s = Session.from_environment(library)
    embedder = CountingEmbedder(s.embedder)
    indexer = Indexer(
        s.library, embedder, s.tokenizer, s.settings.chunk_tokens, s.settings.chunk_overlap
    )
    s.library.embedding()  # the library file exists before the probe opens it
    started, cpu = time.perf_counter(), time.process_time()
    probe = Probe(library, query, files, started)
    probe.start()
    report = indexer.index([folder])
    seconds = time.perf_counter() - started
    cpu_s = time.process_time() - cpu  # this process's threads; the parse worker's apart
    probe.join(timeout=5)
    probe.stop.set()
    first = embedder.embedded
    again = indexer.index([folder])
    return {
        "seconds": round(seconds, 2),
        "files": files,
        "chunks": report.chunks,
        "docs_per_s": round((report.added + report.updated) / seconds, 2),
        "chunks_per_s": round(report.chunks / seconds, 2),
        "cpu_s": round(cpu_s, 2),
        "chunks_per_cpu_s": round(report.chunks / cpu_s, 2) if cpu_s else 0.0,
        "first_keyword_hit_s": _rounded(probe.first_hit_s),
        "all_text_s": _rounded(probe.all_text_s),
        "embedded_s": _rounded(probe.embedded_s if probe.embedded_s is not None else seconds),
        "embedded": first,
        "reindex_embedded": embedder.embedded - first,
        "reindex_unchanged_files": again.unchanged,
        "concurrency": embedder.concurrency,
        "peak_rss_mb": peak_rss_mb(),
    }


def _rounded(value: float | None) -> float:
    return round(value, 2) if value is not None else -1.0


def naive(library: Path, *, quiet: bool, max_chunks: int = 0) -> Figures:
    """Embed the chunks stored in `library` (the first `max_chunks` if not 0) in batches of
    32, in order: stock fastembed, or (`quiet`) Folio's own session, one caller."""
    from desktop.library.chunk_keys import text_for
    from desktop.library.store import Library
    from desktop.session import Session

    with Library(library) as lib:  # the chunks Folio made of the same files
        rows = lib.db.execute("SELECT text, heading FROM chunks ORDER BY id").fetchall()
    texts = [text_for(str(t), None if h is None else str(h)) for t, h in rows]
    if max_chunks:
        texts = texts[:max_chunks]
    s = Session.from_environment(library)
    embed = s.embedder.embed_batch if quiet else _stock_fastembed(s)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), NAIVE_BATCH):
        embed(texts[start : start + NAIVE_BATCH])
    seconds = time.perf_counter() - started
    cpu_s = time.process_time() - cpu
    return {
        "seconds": round(seconds, 2),
        "chunks": len(texts),
        "chunks_per_s": round(len(texts) / seconds, 2) if seconds else 0.0,
        "cpu_s": round(cpu_s, 2),
        "chunks_per_cpu_s": round(len(texts) / cpu_s, 2) if cpu_s else 0.0,
        "peak_rss_mb": peak_rss_mb(),
    }


def _stock_fastembed(s: Session) -> Callable[[list[str]], object]:
    """fastembed's TextEmbedding as a newcomer would make it: its defaults (every core,
    ONNX Runtime's spinning threads and memory arena), the same model files."""
    from fastembed import TextEmbedding

    from desktop.models.installed import require_local

    spec = s.model_spec("embedding")
    folder = require_local(spec, s.locations.models_search_path)
    model = TextEmbedding(spec.fastembed_name or "", specific_model_path=str(folder))

    def embed(batch: list[str]) -> object:
        return list(model.embed(batch, batch_size=NAIVE_BATCH))

    return embed
