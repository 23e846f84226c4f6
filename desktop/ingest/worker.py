"""The parse worker: a child process that reads and chunks one file at a time.

Every parser (PDFium, lxml, calamine, the tokenizer) runs here, never in the indexing
process, under a memory limit the worker sets on itself (RLIMIT_AS, where the system has
it). A parser that crashes, hangs or runs out of memory takes down only this process; the
pool (`desktop.ingest.pool`) marks the file failed and starts another worker.

Messages, over one `multiprocessing` pipe:
    parent -> worker: `Init`, then `(job_id, path)` per file, then None to stop.
    worker -> parent: ("ready", rss), ("done", job_id, Parsed) or ("failed", job_id, reason);
    ("fatal", job_id, reason) before exiting after a MemoryError.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from desktop.errors import ExtractionError
from desktop.ingest.limits import MB, IngestLimits
from desktop.ingest.types import ChunkDraft

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Init:
    """What a worker needs to chunk like the indexer: the tokenizer and the chunk sizes."""

    tokenizer_json: str
    chunk_tokens: int
    overlap_tokens: int
    limits: IngestLimits
    log_level: int = logging.WARNING


@dataclass
class Parsed:
    """One file read and chunked."""

    chunks: list[ChunkDraft]
    pages: int | None = None
    notes: list[str] = field(default_factory=list)


def memory_message(path: object, limits: IngestLimits) -> str:
    return (
        f"{path}: reading it needed more than the {limits.memory_mb:,} MB memory limit set in "
        "Settings (parse_memory_mb); the file is damaged or unusually large"
    )


def main(conn: Connection) -> None:
    """Serve parse jobs until the parent says stop or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one core per worker; embedding has the rest
    _exit_with_parent()
    init: Init = conn.recv()
    _redirect_stderr()
    logging.basicConfig(level=init.log_level, format="%(levelname)s %(name)s: %(message)s")
    from tokenizers import Tokenizer

    from desktop.ingest.chunker import chunk
    from desktop.ingest.extract import extract_document

    tokenizer = Tokenizer.from_str(init.tokenizer_json)
    tokenizer.no_padding()
    tokenizer.no_truncation()
    conn.send(("ready", _limit_memory(init.limits.memory_mb)))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        job_id, raw_path = job
        path = Path(raw_path)
        try:
            extracted = extract_document(path, init.limits)
            drafts = chunk(extracted.sections, tokenizer, init.chunk_tokens, init.overlap_tokens)
            reply: tuple[object, ...] = (
                "done",
                job_id,
                Parsed(drafts, extracted.pages, extracted.notes),
            )
        except ExtractionError as exc:
            reply = ("failed", job_id, str(exc))
        except MemoryError:
            _send(conn, ("fatal", job_id, memory_message(path, init.limits)))
            os._exit(3)  # the heap may be in any state: start afresh
        except RecursionError:
            reply = ("failed", job_id, f"{path}: nested too deeply to read")
        except Exception as exc:  # a parser's bug costs this file only
            log.exception("unexpected error reading %s", path)
            reply = ("failed", job_id, f"{path}: could not be read ({type(exc).__name__}: {exc})")
        if not _send(conn, reply):
            return


def _send(conn: Connection, message: tuple[object, ...]) -> bool:
    try:
        conn.send(message)
    except (OSError, EOFError, ValueError):
        return False
    except MemoryError:
        os._exit(3)
    return True


def _limit_memory(memory_mb: int) -> int:
    """Cap this process's address space at what it uses now plus `memory_mb`; return RSS.

    Allocation past the cap fails inside the parser (MemoryError in Python, an abort in
    native code), which ends this worker, not the indexer. Systems without RLIMIT_AS
    (Windows; macOS does not enforce it) rely on the pool's RSS watch alone.
    """
    import psutil

    info = psutil.Process().memory_info()
    try:
        import resource

        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = info.vms + memory_mb * MB
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):
        log.debug("address space limit not available here; the pool watches RSS instead")
    return int(info.rss)


def _redirect_stderr() -> None:
    """Send this worker's stderr (native libraries' own messages: a Rust panic, PDFium's
    warnings) to Folio's log folder, not into the user's terminal."""
    from desktop.paths import Locations

    try:
        folder = Locations.from_environment().log_dir
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / "parse-workers.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        return
    sys.stderr.flush()
    os.dup2(fd, 2)
    os.close(fd)


def _exit_with_parent() -> None:
    """End this worker when the indexing process dies (even by kill -9): a daemon thread
    notices the parent change, since a hung parser never reads the closed pipe."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(2)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":  # pragma: no cover - started through multiprocessing only
    sys.exit("desktop.ingest.worker is started by the parse pool")
