"""Libraries padded to a given number of chunks, for measuring retrieval at scale.

A padded library is a real Folio library file (same schema, FTS5 and vector index), filled
by bulk inserts with synthetic chunks made from real seeds:
- each vector is a real embedding plus Gaussian noise, normalised, so the library has the
  clustered shape of real embeddings (uniformly random vectors would make every search
  look alike and every recall figure meaningless);
- each text is drawn word by word from the seed texts' own word frequencies, so the
  keyword leg sees a realistic Zipf vocabulary.
Built once per (size, seed) and cached: the file name carries both.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import apsw
import numpy as np

from desktop.library import vectors
from desktop.library.db import library_files
from desktop.library.store import Library

BATCH = 20_000
CHUNKS_PER_DOCUMENT = 10
WORDS_PER_CHUNK = 110  # about a 200-token chunk, Folio's default size
FORMAT = 1  # bump when the recipe changes, so old cached files are not reused
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+|\d+")

Say = Callable[[str], None]


def padded_path(cache: Path, n_chunks: int, tag: str) -> Path:
    """Where the padded library of this size and seed lives in the cache folder."""
    return Path(cache) / f"padded-v{FORMAT}-{tag}-{n_chunks}.sqlite"


def build_padded(
    path: Path,
    n_chunks: int,
    seed_vectors: np.ndarray,
    seed_texts: Sequence[str],
    model_id: str,
    say: Say | None = None,
    rng_seed: int = 0,
) -> Path:
    """Write a library of `n_chunks` synthetic chunks to `path` (kept if already complete).

    The real seeds come first, verbatim; the rest are noisy copies of them.
    """
    path = Path(path)
    done = path.with_suffix(".done")
    if path.exists() and done.exists():
        return path
    for stale in library_files(path):
        stale.unlink(missing_ok=True)
    seeds = np.ascontiguousarray(seed_vectors, dtype=np.float32)
    if len(seeds) == 0 or len(seeds) != len(seed_texts):
        raise ValueError("need as many seed texts as seed vectors, at least one")
    rng = np.random.default_rng(rng_seed)
    vocab, probs = _word_distribution(seed_texts)
    started = time.perf_counter()
    with Library(path) as lib:
        lib.bind_embedder(model_id, int(seeds.shape[1]))
        db = lib.db
        folder = lib.add_folder(path.parent / "padded")
        db.execute("PRAGMA synchronous=OFF")
        next_chunk = 1
        while next_chunk <= n_chunks:
            count = min(BATCH, n_chunks - next_chunk + 1)
            ids = np.arange(next_chunk, next_chunk + count)
            origin = (ids - 1) % len(seeds)
            real = ids <= len(seeds)
            matrix = _noisy(seeds[origin], seeds, rng, real)
            texts = [
                seed_texts[int(o)] if r else t
                for o, r, t in zip(origin, real, _texts(vocab, probs, count, rng), strict=True)
            ]
            with db:
                _insert_batch(db, folder, ids, texts, path)
                vectors.insert_many(db, ids.tolist(), matrix)
            next_chunk += count
            if say is not None:
                say(f"padded {path.name}: {next_chunk - 1}/{n_chunks} chunks")
        with db:  # fit the vector index's cells to the whole library
            vectors.rebuild_index(db)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    done.write_text(f"{time.perf_counter() - started:.1f} s\n")
    return path


def _insert_batch(
    conn: apsw.Connection, folder: int, ids: np.ndarray, texts: Sequence[str], path: Path
) -> None:
    first_doc = int(ids[0] - 1) // CHUNKS_PER_DOCUMENT + 1
    last_doc = int(ids[-1] - 1) // CHUNKS_PER_DOCUMENT + 1
    now = time.time()
    conn.executemany(
        "INSERT OR IGNORE INTO documents(id, folder_id, path, size, mtime, content_hash, "
        "status, pages, indexed_at) VALUES (?, ?, ?, 0, 0, NULL, 'indexed', NULL, ?)",
        (
            (d, folder, f"{path.parent}/padded/doc-{d:07d}.txt", now)
            for d in range(first_doc, last_doc + 1)
        ),
    )
    conn.executemany(
        "INSERT INTO chunks(id, document_id, ordinal, text, page, char_start, char_end, heading) "
        "VALUES (?, ?, ?, ?, NULL, 0, ?, NULL)",
        (
            (
                int(cid),
                int(cid - 1) // CHUNKS_PER_DOCUMENT + 1,
                int(cid - 1) % CHUNKS_PER_DOCUMENT,
                text,
                len(text),
            )
            for cid, text in zip(ids, texts, strict=True)
        ),
    )


def _noisy(
    base: np.ndarray, seeds: np.ndarray, rng: np.random.Generator, keep: np.ndarray
) -> np.ndarray:
    """Each row moved part of the way towards another seed, plus noise of a random strength:
    a continuum between real embeddings rather than tight clusters of copies."""
    partner = seeds[rng.integers(0, len(seeds), size=len(base))]
    mix = rng.uniform(0.0, 0.5, size=(len(base), 1)).astype(np.float32)
    sigma = rng.uniform(0.02, 0.05, size=(len(base), 1)).astype(np.float32)
    noise = rng.standard_normal(base.shape, dtype=np.float32) * sigma
    moved = (1 - mix) * base + mix * partner + noise
    out = np.where(keep[:, None], base, moved).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def _word_distribution(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    counts = Counter(w.lower() for t in texts for w in _WORD.findall(t))
    if not counts:
        counts = Counter({"folio": 1})
    words, freq = zip(*counts.most_common(), strict=True)
    probs = np.asarray(freq, dtype=np.float64)
    return np.asarray(words, dtype=object), probs / probs.sum()


def _texts(vocab: np.ndarray, probs: np.ndarray, count: int, rng: np.random.Generator) -> list[str]:
    picks = rng.choice(len(vocab), size=(count, WORDS_PER_CHUNK), p=probs)
    return [" ".join(vocab[row]) for row in picks]
