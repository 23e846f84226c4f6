"""Parse worker processes with a time limit and a memory limit per file.

The indexer submits files and polls for results; each result is either the file's chunks
or a reason it could not be read. A worker that overruns the time limit, grows past the
memory limit (watched here through its RSS, and capped in the worker with RLIMIT_AS) or
crashes is killed or reaped, its file is marked failed with that reason, and a fresh worker
takes the next file. Workers start with `spawn`, the one start method that is safe in a
process running ONNX Runtime's threads and the same on every platform.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path

import psutil
from tokenizers import Tokenizer

from desktop.closing import Closeable
from desktop.ingest.limits import MB, IngestLimits
from desktop.ingest.worker import Init, Parsed, main, memory_message

log = logging.getLogger(__name__)

# How often busy workers are checked against the limits while waiting for results.
_WATCH_S = 0.2
_CONTEXT = multiprocessing.get_context("spawn")


@dataclass
class _Job:
    key: Hashable
    path: Path
    started: float | None = None  # when a ready worker had it: the time limit counts from here


class _Worker:
    """One worker process and the job it is on."""

    def __init__(self, init: Init) -> None:
        parent, child = _CONTEXT.Pipe()
        self.process: BaseProcess = _CONTEXT.Process(
            target=main, args=(child,), name="folio-parse", daemon=True
        )
        self.process.start()
        child.close()
        self.conn: Connection = parent
        self.conn.send(init)
        self.job: _Job | None = None
        self.ready = False
        self.rss_limit: int | None = None
        self.memory_mb = init.limits.memory_mb
        self.peak_rss = 0

    def assign(self, job: _Job) -> None:
        job.started = time.monotonic() if self.ready else None
        self.job = job
        self.conn.send((id(job), str(job.path)))

    def rss(self) -> int:
        try:
            value = int(psutil.Process(self.process.pid or 0).memory_info().rss)
        except (psutil.Error, ValueError):
            return 0
        self.peak_rss = max(self.peak_rss, value)
        return value

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(2)
        self.conn.close()


class ParsePool(Closeable):
    """Reads files in worker processes; `poll` hands back (key, Parsed | reason) pairs.

    Args:
        tokenizer: the embedder's tokenizer, set up for counting (sent to each worker).
        chunk_tokens, overlap_tokens: the chunk sizes.
        limits: time, memory and size limits per file, and the number of workers.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        chunk_tokens: int,
        overlap_tokens: int,
        limits: IngestLimits,
    ) -> None:
        self.limits = limits
        self._init = Init(
            tokenizer.to_str(),
            chunk_tokens,
            overlap_tokens,
            limits,
            logging.getLogger().getEffectiveLevel(),
        )
        self._size = limits.worker_count()
        self._workers: list[_Worker] = []
        self._queue: deque[_Job] = deque()
        self._done: list[tuple[Hashable, Parsed | str]] = []
        self.peak_rss = 0
        self.key: tuple[object, ...] | None = None  # set by `borrow`

    # -- use -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers now (they take about a second to boot), before any file."""
        while len(self._workers) < self._size:
            self._workers.append(_Worker(self._init))

    def submit(self, key: Hashable, path: Path) -> None:
        """Queue a file; its result comes back from `poll` under `key`."""
        self._queue.append(_Job(key, path))
        self._dispatch()

    @property
    def pending(self) -> int:
        """Files submitted whose results `poll` has not handed back yet."""
        busy = sum(1 for w in self._workers if w.job is not None)
        return len(self._queue) + busy + len(self._done)

    @property
    def idle_slots(self) -> int:
        """How many more files could start now without waiting behind another."""
        busy = sum(1 for w in self._workers if w.job is not None)
        return max(0, self._size - busy - len(self._queue))

    def poll(self, timeout: float) -> list[tuple[Hashable, Parsed | str]]:
        """Wait up to `timeout` s for results; enforce the limits on the files being read."""
        deadline = time.monotonic() + timeout
        while not self._done:
            self._dispatch()
            busy = [w for w in self._workers if w.job is not None]
            if not busy:
                break
            left = deadline - time.monotonic()
            ready = wait(
                [w.conn for w in busy] + [w.process.sentinel for w in busy],
                max(0.0, min(_WATCH_S, left)),
            )
            for worker in busy:
                if worker.conn in ready or worker.process.sentinel in ready:
                    self._receive(worker)
            self._enforce_limits()
            if time.monotonic() >= deadline:
                break
        done, self._done = self._done, []
        self._dispatch()
        return done

    def close(self) -> None:
        """Stop every worker (unfinished files are dropped)."""
        for worker in self._workers:
            worker.stop()
        self._workers.clear()
        self._queue.clear()

    # -- inside ----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        self._workers = [w for w in self._workers if w.job is not None or w.process.is_alive()]
        for worker in self._workers:
            if not self._queue:
                return
            if worker.job is None:
                worker.assign(self._queue.popleft())
        while self._queue and len(self._workers) < self._size:
            worker = _Worker(self._init)
            self._workers.append(worker)
            worker.assign(self._queue.popleft())

    def _receive(self, worker: _Worker) -> None:
        job = worker.job
        assert job is not None
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                kind = message[0]
                if kind == "ready":
                    worker.ready = True
                    worker.rss_limit = int(message[1]) + worker.memory_mb * MB
                    job.started = time.monotonic()
                elif message[1] == id(job):
                    if kind == "done":
                        self._finish(worker, message[2])
                    else:
                        self._finish(worker, str(message[2]))
                        if kind == "fatal":
                            worker.kill()
                    return
        except (EOFError, OSError):
            pass
        if not worker.process.is_alive() or worker.conn.closed:
            worker.process.join(1)
            self._finish(worker, self._crash_reason(worker, job))
            worker.kill()

    def _finish(self, worker: _Worker, result: Parsed | str) -> None:
        job = worker.job
        assert job is not None
        worker.job = None
        self.peak_rss = max(self.peak_rss, worker.peak_rss)
        self._done.append((job.key, result))

    def _enforce_limits(self) -> None:
        now = time.monotonic()
        for worker in self._workers:
            job = worker.job
            if job is None or job.started is None:
                continue
            if now - job.started > self.limits.timeout_s:
                log.warning(
                    "%s: over the %g s time limit; worker killed", job.path, self.limits.timeout_s
                )
                worker.kill()
                self._finish(
                    worker,
                    f"{job.path}: reading it took longer than the {self.limits.timeout_s:g} s "
                    "time limit set in Settings (parse_timeout_s); the file is damaged or "
                    "unusually large",
                )
            elif worker.rss_limit is not None and worker.rss() > worker.rss_limit:
                log.warning("%s: over the memory limit; worker killed", job.path)
                worker.kill()
                self._finish(worker, memory_message(job.path, self.limits))

    def _crash_reason(self, worker: _Worker, job: _Job) -> str:
        code = worker.process.exitcode
        if code is not None and code < 0:
            try:
                how = signal.Signals(-code).name
            except ValueError:
                how = f"signal {-code}"
        else:
            how = f"exit code {code}"
        return (
            f"{job.path}: the reader crashed on it ({how}); the file is damaged, or needed "
            f"more than the {self.limits.memory_mb:,} MB memory limit set in Settings"
        )


# -- warm pools ---------------------------------------------------------------------------
# Workers take about a second to boot. The window and the watcher index often (every save),
# so a finished run hands its pool back here; the next run with the same settings borrows
# it warm. Pools idle for IDLE_S are stopped by a daemon timer.
IDLE_S = 120.0
_idle: dict[tuple[object, ...], tuple[ParsePool, threading.Timer]] = {}
_idle_lock = threading.Lock()


def borrow(
    tokenizer: Tokenizer, chunk_tokens: int, overlap_tokens: int, limits: IngestLimits
) -> ParsePool:
    """A pool for these settings: a warm one handed back earlier, or a new one."""
    key = (tokenizer.to_str(), chunk_tokens, overlap_tokens, limits)
    with _idle_lock:
        entry = _idle.pop(key, None)
    if entry is not None:
        entry[1].cancel()
        return entry[0]
    pool = ParsePool(tokenizer, chunk_tokens, overlap_tokens, limits)
    pool.key = key
    return pool


def give_back(pool: ParsePool) -> None:
    """Keep an idle pool warm for IDLE_S seconds (one per settings), then stop it."""
    if pool.pending or pool.key is None:
        pool.close()
        return
    timer = threading.Timer(IDLE_S, _expire, (pool.key, pool))
    timer.daemon = True
    with _idle_lock:
        old = _idle.pop(pool.key, None)
        _idle[pool.key] = (pool, timer)
    if old is not None:
        old[1].cancel()
        old[0].close()
    timer.start()


def _expire(key: tuple[object, ...], pool: ParsePool) -> None:
    with _idle_lock:
        if _idle.get(key, (None,))[0] is pool:
            del _idle[key]
        else:
            return
    pool.close()
