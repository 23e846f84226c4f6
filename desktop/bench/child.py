"""Benchmark steps that must run in a fresh process of their own (cold start, peak RSS).

    python -m desktop.bench.child startup folio|naive LIBRARY T0
    python -m desktop.bench.child index folio|naive|naive-quiet FOLDER LIBRARY [MAX_CHUNKS]
    python -m desktop.bench.child memory folio|naive LIBRARY QUESTIONS_JSON
    python -m desktop.bench.child search sqlite-vec|numpy LIBRARY QUERY [FOLDER_ID]

Each prints one JSON object on stdout. Peak RSS is the process's own `ru_maxrss`.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tokenizers import Tokenizer

from desktop.embed.base import Embedder

if TYPE_CHECKING:
    from desktop.bench.results import Figures


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB.

    Linux's `ru_maxrss` survives exec: a child started by a benchmark that already held
    1.5 GB reported 1.5 GB whatever it did. `VmHWM` belongs to this process image alone.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class CountingEmbedder(Embedder):
    """Passes every batch to another embedder and counts the texts it embedded (from as
    many threads at once as the other embedder allows)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.batch_size = inner.batch_size
        self.concurrency = inner.concurrency
        self.embedded = 0
        self._lock = threading.Lock()

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self.embedded += len(texts)
        return self.inner.embed_batch(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

    def tokenizer(self) -> Tokenizer:
        return self.inner.tokenizer()


def startup(kind: str, library: Path, t0: float) -> Figures:
    """Seconds from `t0` (the parent's clock before spawning us) to a shown window and to
    a loaded model. `naive` loads the model before showing the window."""
    from PySide6.QtCore import QTimer

    from desktop.config import Config
    from desktop.session import Session
    from desktop.ui import theme
    from desktop.ui.app import ensure_app

    config = Config.from_environment(library)
    app = ensure_app()
    theme.apply(app, config.settings.theme)
    marks: dict[str, float] = {}
    session = Session(config)
    if kind == "naive":
        _ = session.engine  # everything loaded first, then the window
        marks["model_ready_s"] = time.time() - t0
    from desktop.ui.main_window import MainWindow

    window = MainWindow(session)
    window.show()

    def shown() -> None:
        marks["window_shown_s"] = time.time() - t0
        if "model_ready_s" in marks:
            app.quit()

    def ready(_info: object) -> None:
        marks["model_ready_s"] = time.time() - t0
        if "window_shown_s" in marks:
            app.quit()

    window.models.model_ready.connect(ready)
    QTimer.singleShot(0, shown)  # runs once the event loop has shown the window
    QTimer.singleShot(180_000, app.quit)
    app.exec()
    window.shutdown()
    return {**{k: round(v, 3) for k, v in marks.items()}, "peak_rss_mb": peak_rss_mb()}


def index(kind: str, folder: Path, library: Path, max_chunks: int = 0) -> Figures:
    """Index `folder` Folio's way, timing when the first keyword hit, all the text and all
    the vectors arrived (then index it again, unchanged); or embed the chunks Folio made
    of it the naive way (`desktop.bench.index_timing`)."""
    from desktop.bench import index_timing

    if kind == "folio":
        return index_timing.folio(folder, library)
    return index_timing.naive(library, quiet=kind == "naive-quiet", max_chunks=max_chunks)


def memory(kind: str, library: Path, questions: list[str]) -> Figures:
    """Peak RSS with `library` open, after searching each question, then after answering
    each; and how long opening the library took."""
    from desktop.library.store import Library
    from desktop.session import Session

    started = time.perf_counter()
    Library(library).close()  # what opening costs: connect, extension, schema check
    open_ms = (time.perf_counter() - started) * 1000
    with Session.from_environment(library) as s:
        for q in questions:
            s.searcher.search(q, k=8)
        searching_mb = peak_rss_mb()
        if kind == "naive":
            from desktop.evaluate.naive import STOCK_MODEL, RawModel, naive_answer, retrieve
            from desktop.models.installed import require_local
            from desktop.rag.budget import DEFAULT_BUDGET

            spec = s.catalog.get(STOCK_MODEL)
            model = RawModel(require_local(spec, s.locations.models_search_path))
            for q in questions:
                naive_answer(model, retrieve(s.searcher, q, 5, DEFAULT_BUDGET), 64)
            model.close()
        else:  # the model writes: quoting alone would leave it unloaded
            s.configure(s.settings.with_changes(answer_mode="write"))
            s.answerer.max_tokens = 64
            for q in questions:
                s.answerer.ask(q)
        chunks = s.library.counts()["chunks"]
    return {
        "chunks": chunks,
        "questions": len(questions),
        "library_open_ms": round(open_ms, 1),
        "peak_rss_searching_mb": searching_mb,
        "peak_rss_mb": peak_rss_mb(),
    }


def search(kind: str, library: Path, query: str, folder_id: int | None) -> Figures:
    """The first search of a fresh process, as `folio search` runs it: the library opened,
    the query embedded and searched; `numpy` swaps in schema 4's in-memory vector leg."""
    from desktop.library.store import Library
    from desktop.session import Session

    started = time.perf_counter()
    Library(library).close()  # what opening costs: connect, extension, schema check
    open_ms = (time.perf_counter() - started) * 1000
    with Session.from_environment(library) as s:
        searcher = s.searcher  # loads the embedding model
        ready = time.perf_counter()
        if kind == "numpy":
            from desktop.bench import numpy_baseline

            if folder_id is not None:
                raise SystemExit("the numpy baseline has no folder filter")

            def numpy_leg(
                vector: np.ndarray, limit: int, folder_id: int | None = None
            ) -> list[tuple[int, float]]:
                return numpy_baseline.nearest(s.library.db, vector, limit)

            searcher.vector_ids = numpy_leg  # type: ignore[method-assign]
        t = time.perf_counter()
        result = searcher.search(query, k=8, folder_id=folder_id)
        first_ms = (time.perf_counter() - t) * 1000
    return {
        "first_search_ms": round(first_ms, 1),
        "vector_ms": round(result.timings_ms.get("vector", 0.0), 1),
        "setup_ms": round((ready - started) * 1000, 1),
        "library_open_ms": round(open_ms, 1),
        "hits": len(result.hits),
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str]) -> int:
    what, kind, *rest = argv
    if what == "startup":
        result = startup(kind, Path(rest[0]), float(rest[1]))
    elif what == "index":
        result = index(kind, Path(rest[0]), Path(rest[1]), int(rest[2]) if len(rest) > 2 else 0)
    elif what == "memory":
        questions = json.loads(Path(rest[1]).read_text())
        if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
            raise SystemExit(f"{rest[1]}: expected a JSON list of questions")
        result = memory(kind, Path(rest[0]), questions)
    elif what == "search":
        folder = int(rest[2]) if len(rest) > 2 else None
        result = search(kind, Path(rest[0]), rest[1], folder)
    else:
        raise SystemExit(f"unknown step {what!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
