"""Parse workers: a file that hangs, crashes its reader or runs out of memory fails alone,
with the reason, and the next file is read by a fresh worker."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from desktop.ingest.limits import IngestLimits
from desktop.ingest.pool import ParsePool
from desktop.ingest.worker import Parsed
from desktop.library.backfill import budget_batches

pytestmark = pytest.mark.slow


def _big(path: Path, mb: float) -> Path:
    rng = random.Random(1)
    words = ["pump", "valve", "river", "station", "harbour", "ferry"]
    path.write_text(" ".join(rng.choice(words) for _ in range(int(mb * 2**20 / 6))))
    return path


def _run(pool: ParsePool, files: list[Path], timeout: float = 120) -> dict[str, Parsed | str]:
    for path in files:
        pool.submit(path.name, path)
    results: dict[str, Parsed | str] = {}
    deadline = time.monotonic() + timeout
    while pool.pending and time.monotonic() < deadline:
        for key, result in pool.poll(0.5):
            results[str(key)] = result
    return results


@pytest.fixture()
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.txt"
    path.write_text("The pump at Bergen is called Alvilde.\n")
    return path


def test_a_slow_file_hits_the_time_limit_and_the_next_file_is_read(
    tmp_path: Path, good: Path, real_tokenizer
) -> None:  # type: ignore[no-untyped-def]
    slow = _big(tmp_path / "slow.txt", 2.5)
    with ParsePool(real_tokenizer, 200, 40, IngestLimits(timeout_s=0.5, workers=1)) as pool:
        results = _run(pool, [slow, good])
    assert "took longer than the 0.5 s time limit set in Settings" in str(results["slow.txt"])
    parsed = results["good.txt"]
    assert isinstance(parsed, Parsed) and "Alvilde" in parsed.chunks[0].text


def test_a_file_over_the_memory_limit_fails_alone(
    tmp_path: Path, good: Path, real_tokenizer
) -> None:  # type: ignore[no-untyped-def]
    hungry = _big(tmp_path / "hungry.txt", 2.5)
    with ParsePool(real_tokenizer, 200, 40, IngestLimits(memory_mb=40, workers=1)) as pool:
        results = _run(pool, [hungry, good])
    reason = str(results["hungry.txt"])
    assert "memory limit" in reason and reason.startswith(str(hungry))
    assert isinstance(results["good.txt"], Parsed)


def test_a_crashed_reader_fails_its_file_and_a_new_worker_goes_on(
    tmp_path: Path, good: Path, real_tokenizer
) -> None:  # type: ignore[no-untyped-def]
    victim = _big(tmp_path / "victim.txt", 2.5)
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 garbage")
    with ParsePool(real_tokenizer, 200, 40, IngestLimits(workers=1)) as pool:
        pool.submit("victim.txt", victim)
        deadline = time.monotonic() + 60
        while not any(w.job and w.job.started for w in pool._workers):
            assert time.monotonic() < deadline
            pool.poll(0.05)
        time.sleep(0.2)
        os.kill(pool._workers[0].process.pid or 0, signal.SIGKILL)  # the reader "crashes"
        results = _run(pool, [bad, good])
        results.update(dict(pool.poll(1)))
    assert "the reader crashed on it (SIGKILL)" in str(results.get("victim.txt", ""))
    assert "not a valid PDF" in str(results["bad.pdf"])
    assert isinstance(results["good.txt"], Parsed)


def test_batches_keep_length_times_size_within_budget() -> None:
    from desktop.library import backfill as pipeline

    lengths = [300] * 3 + [256] * 20 + [64] * 200 + [30] * 5 + [2] * 300
    batches = budget_batches(lengths)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * longest <= pipeline.TOKENS_PER_CALL
        assert len(batch) <= pipeline.MAX_BATCH
        assert lengths[batch[0]] <= lengths[batch[-1]]  # length-sorted: little padding
    assert {len(b) for b in batches if lengths[b[0]] >= 256} == {1}  # a long text goes alone
    assert max(len(b) for b in batches if lengths[b[0]] == 64) == 4
    assert max(len(b) for b in batches) == pipeline.MAX_BATCH


def test_groups_shrink_only_at_the_end_of_the_list() -> None:
    """Threads take EMBED_GROUP chunks at a time; once the whole list is read, what is left
    is shared among them (at least MIN_GROUP each), so none waits idle at the end."""
    from collections import deque
    from types import SimpleNamespace

    from desktop.library import backfill

    def size(queued: int, at_end: bool, threads: int) -> int:
        group = object.__new__(backfill.Backfill)
        group._queue = deque(range(queued))
        group._at_end = at_end
        group.embedder = SimpleNamespace(concurrency=threads)
        return group._group_size()

    assert size(500, at_end=False, threads=16) == backfill.EMBED_GROUP  # mid-list: whole
    assert size(100, at_end=False, threads=2) == backfill.EMBED_GROUP
    assert size(500, at_end=True, threads=2) == backfill.EMBED_GROUP
    assert size(100, at_end=True, threads=2) == 50  # the last 100: half each
    assert size(20, at_end=True, threads=2) == 10
    assert size(5, at_end=True, threads=2) == backfill.MIN_GROUP
