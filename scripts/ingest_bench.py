#!/usr/bin/env python3
"""Ingestion figures for issue 10, each measured side by side in one run, with the load.

    .venv/bin/python scripts/ingest_bench.py throughput --docs 400   # SciFact vs naive loop
    .venv/bin/python scripts/ingest_bench.py resync --files 5000     # touch one file

(Embeddings for a rename and for a one-paragraph edit, and the time to remove a 10,000-chunk
folder, are measured by tests/test_index_reuse.py and tests/test_index_library.py.)

Each figure runs in its own subprocess so peak RSS (ru_maxrss) belongs to that job alone.
SciFact is read from ../shared/eval (evaluation data: never copied into the repository).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT.parent / "shared" / "eval" / "scifact" / "corpus.jsonl"
MODEL = ROOT / "models" / "all-minilm-l6-v2-int8"


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def write_scifact(folder: Path, n: int) -> Path:
    """The first `n` SciFact abstracts as text files: title, blank line, abstract."""
    folder.mkdir(parents=True, exist_ok=True)
    with SCIFACT.open() as f:
        for i, line in enumerate(f):
            if i >= n:
                break
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(f"{doc['title']}\n\n{doc['text']}\n")
    return folder


def job_folio(folder: str, library: str) -> dict[str, object]:
    from desktop.session import Session

    with Session.from_environment(Path(library)) as s:
        started = time.perf_counter()
        report = s.indexer.index([Path(folder)])
        seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "docs": report.added,
        "chunks": report.chunks,
        "embedded": report.embedded,
        "peak_rss_mb": _peak_mb(),
        "parse_workers_peak_rss_mb": report.parse_peak_rss // 2**20,
    }


def job_naive(folder: str, unit: str) -> dict[str, object]:
    """fastembed's own loop (default batch size, texts in folder order), over the same
    chunk texts Folio embeds ('chunks') or over whole files ('docs')."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    from fastembed import TextEmbedding

    from desktop.ingest.chunker import chunk, load_tokenizer
    from desktop.ingest.extract import extract
    from desktop.library.chunk_keys import embedding_text

    files = sorted(Path(folder).iterdir())
    if unit == "chunks":
        tokenizer = load_tokenizer(MODEL)
        texts = [embedding_text(c) for f in files for c in chunk(extract(f), tokenizer)]
    else:
        texts = [f.read_text() for f in files]
    model = TextEmbedding("sentence-transformers/all-MiniLM-L6-v2", specific_model_path=str(MODEL))
    started = time.perf_counter()
    vectors = list(model.embed(texts))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "texts": len(vectors),
        "docs": len(files),
        "peak_rss_mb": _peak_mb(),
    }


def _run(job: str, *args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "_job", job, *args], capture_output=True, text=True, cwd=ROOT
    )
    if out.returncode != 0:  # e.g. the naive loop killed by the OOM killer: a result too
        return {"failed": f"exit {out.returncode}", "stderr": out.stderr[-500:]}
    row = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps({job: row}), file=sys.stderr, flush=True)
    return row


def throughput(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="folio-ingest-bench-") as tmp:
        folder = write_scifact(Path(tmp) / "scifact", n)
        rows = {}
        for name, job, extra in (
            ("folio index", "folio", str(Path(tmp) / "lib.sqlite")),
            ("naive fastembed loop, same chunks", "naive", "chunks"),
            ("naive fastembed loop, whole abstracts", "naive", "docs"),
        ):
            load = _load()
            row = _run(job, str(folder), extra)
            row["load_before"] = load
            rows[name] = row
        reindex = _run("folio", str(folder), str(Path(tmp) / "lib.sqlite"))
    folio = rows["folio index"]
    for row in rows.values():
        if "seconds" in row:
            row["docs_per_s"] = round(float(row["docs"]) / float(row["seconds"]), 2)
    folio["chunks_per_s"] = round(float(folio["chunks"]) / float(folio["seconds"]), 2)
    same = rows["naive fastembed loop, same chunks"]
    return {
        "docs": n,
        "rows": rows,
        "speedup_vs_naive_same_chunks": round(float(same["seconds"]) / float(folio["seconds"]), 2)
        if "seconds" in same
        else None,
        "reindex_unchanged": {"seconds": reindex["seconds"], "embedded": reindex["embedded"]},
        "load_after": _load(),
    }


class _HashEmbedder:
    """Deterministic stand-in vectors, so a 5,000-file library is set up in seconds; the
    sync being timed then embeds one chunk (the real model adds ~20-50 ms for it)."""

    model_id = "bench-hash-embedder"
    dim = 384

    def embed_batch(self, texts: list[str]) -> object:
        import numpy as np

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            rng = np.random.default_rng(abs(hash(text)) % 2**32)
            v = rng.standard_normal(self.dim)
            out[i] = v / np.linalg.norm(v)
        return out


def resync(files: int) -> dict[str, object]:
    """Index a folder of `files` small notes, touch one, and time the sync that follows:
    the full rescan a `folio index` does, and the watcher's sync of the one path."""
    from desktop.ingest.chunker import load_tokenizer
    from desktop.library.indexer import Changes, Indexer
    from desktop.library.store import Library

    rng = random.Random(3)
    words = "pump valve river station bearing cooling winter report energy harbour".split()
    with tempfile.TemporaryDirectory(prefix="folio-resync-") as tmp:
        folder = Path(tmp) / "notes"
        for i in range(files):
            sub = folder / f"group-{i % 50:02d}"
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"note-{i:05d}.txt").write_text(
                " ".join(rng.choice(words) for _ in range(40)) + f" note {i}.\n"
            )
        with Library(Path(tmp) / "lib.sqlite") as lib:
            indexer = Indexer(lib, _HashEmbedder(), load_tokenizer(MODEL))  # type: ignore[arg-type]
            t = time.perf_counter()
            first = indexer.index([folder])
            index_s = time.perf_counter() - t
            target = folder / "group-07" / "note-00007.txt"
            rows = {}
            for name, run in (
                ("rescan (folio index)", lambda: indexer.index([folder])),
                ("watcher sync of the path", lambda: indexer.sync(folder, Changes({target}))),
            ):
                times, report = [], None
                for n in range(3):
                    target.write_text(target.read_text() + f"Edited {name} {n}.\n")
                    t = time.perf_counter()
                    report = run()
                    times.append(time.perf_counter() - t)
                assert report is not None
                rows[name] = {
                    "median_s": round(sorted(times)[1], 3),
                    "runs_s": times,
                    "updated": report.updated,
                    "embedded": report.embedded,
                }
            indexer.close()
    return {
        "files": files,
        "first_index_s": round(index_s, 1),
        "first_chunks": first.chunks,
        **rows,
        "load": _load(),
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["_job"]:
        job, *args = argv[1:]
        result = job_folio(*args) if job == "folio" else job_naive(*args)
        print(json.dumps(result))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--docs", type=int, default=400)
    r = sub.add_parser("resync")
    r.add_argument("--files", type=int, default=5000)
    args = parser.parse_args(argv)
    result = throughput(args.docs) if args.what == "throughput" else resync(args.files)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
