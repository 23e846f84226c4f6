"""Benchmarks of the question path: search latency and answer speed on the sample folder."""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

from desktop.bench.stats import summarize
from desktop.sample import QUESTIONS, make_corpus
from desktop.session import Config, Session


def bench_rag(config: Config, runs: int = 5) -> dict[str, object]:
    """Index the sample folder into a scratch library, then time searches and answers
    (medians over `runs`), with the models and settings of `config`."""
    with tempfile.TemporaryDirectory(prefix="folio-bench-") as tmp:
        root = Path(tmp)
        docs = make_corpus(root)
        scratch = dataclasses.replace(config, library_path=root / "lib.sqlite")
        with Session(scratch) as s:
            t = time.perf_counter()
            report = s.indexer.index([docs])
            index_s = time.perf_counter() - t
            search_ms = []
            for _ in range(runs):
                for q in QUESTIONS:
                    t = time.perf_counter()
                    s.searcher.search(q, k=8)
                    search_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            engine = s.engine
            load_s = time.perf_counter() - t
            first, rates, totals, retrieve = [], [], [], []
            for _ in range(runs):
                for q in QUESTIONS:
                    a = s.answerer.ask(q)
                    retrieve.append(a.timings_ms["retrieve"])
                    first.append(a.timings_ms["first_token"])
                    totals.append(a.timings_ms["total"])
                    if a.tokens > 1:
                        rates.append(a.tokens_per_s)
            return {
                "model": Path(engine.model_path).name,
                "index": {
                    "files": report.added,
                    "chunks": report.chunks,
                    "seconds": round(index_s, 2),
                },
                "model_load_s": round(load_s, 2),
                "search_ms": summarize(search_ms),
                "ask": {
                    "retrieve_ms": summarize(retrieve),
                    "first_token_ms": summarize(first),
                    "total_ms": summarize(totals),
                    "tokens_per_s": summarize(rates) if rates else None,
                },
            }
