"""Embedding the chunks stored without a vector: the second phase of indexing.

Indexing stores each document's text and keyword rows as soon as it is parsed, so the
folder is searchable by keyword at once; its chunks wait on the list in
`desktop.library.pending`. `Backfill` works through that list: groups of chunks are
embedded on background threads (one ONNX call per thread, `Embedder.concurrency` of them;
ONNX Runtime releases the GIL), and the thread that owns the library connection writes
each group's vectors in a transaction of its own. Chunks whose text is already embedded
elsewhere in the library get that vector without embedding; duplicates, in one group or
in groups embedding at once, are embedded once. Batches are length-sorted and hold at most
`TOKENS_PER_CALL` tokens (`budget_batches`): the fastest size on this CPU, and small in memory.

A crash or a cancel leaves the rest on the list, and the next run takes it up: nothing is
embedded twice and nothing is lost.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass

import numpy as np

from desktop.embed.base import Embedder
from desktop.library import pending
from desktop.library.chunk_keys import embed_key, text_for
from desktop.library.index_types import IndexReport
from desktop.library.store import Library

log = logging.getLogger(__name__)

#: Chunks handed to one embedding thread at once (sorted by length, then cut into batches),
#: and the fewest when the list runs short: its last chunks are shared among the threads,
#: so none waits idle while another embeds a whole group alone (about 3 s of 64 chunks).
EMBED_GROUP = 64
MIN_GROUP = 8
#: Pending chunks read from the library at a time.
READ_AHEAD = 512
#: Most batch size x longest length (tokens, padding included) in one embedder call; a
#: longer text goes alone. One ONNX thread embeds fastest in small calls: measured on the
#: 2-core Xeon (one thread, quiet, length-sorted SQuAD-train texts, December 7 night), 240
#: paragraphs (median 130 tokens) at 21.5 chunks/s with 256 tokens a call, 19.2 with 512,
#: and 15.5-16.5 with the old quadratic budget (batch x length^2 <= 2 x 256^2 a thread,
#: about 900 tokens a call); 480 sentences (median 30 tokens) at 116.7 with 256, 88.3 one
#: at a time. Small calls also keep the indexer's peak memory down.
TOKENS_PER_CALL = 256
MAX_BATCH = 64


def budget_batches(lengths: Sequence[int], budget: int = TOKENS_PER_CALL) -> list[list[int]]:
    """Indices of `lengths` (token counts) in length order, cut into batches within
    `budget` (batch size x longest length)."""
    batches: list[list[int]] = []
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda k: lengths[k]):
        size = len(batch) + 1
        if batch and (size > MAX_BATCH or size * lengths[i] > budget):
            batches.append(batch)
            batch = []
        batch.append(i)
    if batch:
        batches.append(batch)
    return batches


def embed_bucketed(
    embedder: Embedder, texts: Sequence[str], lengths: Sequence[int], budget: int = TOKENS_PER_CALL
) -> np.ndarray:
    """Embed `texts` in length-sorted batches within `budget` tokens; vectors in input order."""
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for batch in budget_batches(lengths, budget):
        out[batch] = embedder.embed_batch([texts[i] for i in batch])
    return out


def embed_texts(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Embed `texts` in calls of at most `TOKENS_PER_CALL` tokens, lengths measured with the
    embedder's tokenizer (+2 for [CLS] and [SEP])."""
    encodings = embedder.tokenizer().encode_batch(list(texts), add_special_tokens=False)
    return embed_bucketed(embedder, texts, [len(e.ids) + 2 for e in encodings])


@dataclass
class _Group:
    """Texts being embedded on a thread, and the chunk ids waiting for each."""

    texts: list[str]
    chunks: dict[int, str]  # chunk id -> the text it waits for
    future: Future[np.ndarray]


class Backfill:
    """Embeds every chunk on the pending list and stores its vector.

    Drive it from the thread that owns `library`: `start` hands groups to the executor's
    threads, `collect` stores what came back; `busy` says whether anything is left.

    Args:
        report: the run's report: `embedded` counts the texts embedded, `reused` the chunks
            that took a vector already stored.
    """

    def __init__(self, library: Library, embedder: Embedder, report: IndexReport) -> None:
        self.library = library
        self.embedder = embedder
        self.report = report
        self._cursor = 0  # the list is read in id order, from above this id
        self._queue: deque[pending.PendingChunk] = deque()
        self._running: list[_Group] = []
        self._rescanned = False
        self._stored_since_scan = 0
        self._at_end = False  # the last read of the list found fewer than READ_AHEAD

    @property
    def running(self) -> int:
        return len(self._running)

    def busy(self) -> bool:
        """Whether chunks are being embedded or wait on the list (reads the list)."""
        if self._running or self._refill():
            return True
        # The end of the list: a chunk stored meanwhile under an id below the cursor (an id
        # freed by a deletion is reused) is found by one more pass from the start.
        if pending.count(self.library.db) and (not self._rescanned or self._stored_since_scan):
            self._rescanned, self._stored_since_scan, self._cursor = True, 0, 0
            return bool(self._refill())
        return False

    def _refill(self) -> int:
        if len(self._queue) < EMBED_GROUP:
            more = pending.after(self.library.db, self._cursor, READ_AHEAD)
            self._at_end = len(more) < READ_AHEAD
            if more:
                self._cursor = more[-1].id
                self._queue.extend(more)
        return len(self._queue)

    def start(self, executor: Executor, slots: int) -> None:
        """Hand groups to the executor until `slots` are embedding."""
        while len(self._running) < slots and self._refill():
            group = self._next_group(executor)
            if group is not None:
                self._running.append(group)

    def _group_size(self) -> int:
        """EMBED_GROUP; at the end of the list (all of it read), an equal share of what is
        left for each embedding thread, and at least MIN_GROUP."""
        if not self._at_end:
            return EMBED_GROUP
        share = -(-len(self._queue) // max(1, self.embedder.concurrency))
        return min(EMBED_GROUP, max(MIN_GROUP, share))

    def _next_group(self, executor: Executor) -> _Group | None:
        taken = [self._queue.popleft() for _ in range(min(self._group_size(), len(self._queue)))]
        running = {cid for g in self._running for cid in g.chunks}
        wanted = {c.id: text_for(c.text, c.heading) for c in taken if c.id not in running}
        model = self.embedder.model_id
        keys = {cid: embed_key(model, text) for cid, text in wanted.items()}
        known = self.library.vectors_for_keys(keys.values())
        reuse = {cid: text for cid, text in wanted.items() if keys[cid] in known}
        if reuse:
            matrix = np.stack([known[keys[cid]] for cid in reuse])
            stored = self.library.add_vectors(reuse, matrix)
            self.report.reused += stored
            self._stored_since_scan += stored
        todo = {cid: text for cid, text in wanted.items() if cid not in reuse}
        # A text another thread is embedding now: its chunks wait for that group's vector
        # (embedded once, as the list's duplicates are).
        in_flight = {text: g for g in self._running for text in g.texts}
        for cid, text in list(todo.items()):
            if text in in_flight:
                in_flight[text].chunks[cid] = todo.pop(cid)
        if not todo:
            return None
        texts = list(dict.fromkeys(todo.values()))  # a group's duplicates embedded once
        future = executor.submit(embed_texts, self.embedder, texts)
        return _Group(texts, todo, future)

    def collect(self, timeout: float = 0.0) -> int:
        """Store the vectors of every finished group, waiting up to `timeout` seconds for
        one; returns how many chunks got vectors. An embedder's error is raised here."""
        if not self._running:
            return 0
        if timeout > 0:
            wait([g.future for g in self._running], timeout=timeout, return_when=FIRST_COMPLETED)
        stored = 0
        for group in [g for g in self._running if g.future.done()]:
            self._running.remove(group)
            vectors = group.future.result()
            row = {text: i for i, text in enumerate(group.texts)}
            matrix = vectors[[row[text] for text in group.chunks.values()]]
            stored += self.library.add_vectors(group.chunks, matrix)
            self.report.embedded += len(group.texts)
        self._stored_since_scan += stored
        return stored

    def abandon(self) -> None:
        """Stop waiting for the groups in flight (a cancel): their chunks stay on the list."""
        for group in self._running:
            group.future.cancel()
        self._running.clear()
