#!/usr/bin/env python3
"""Evaluate Folio's retrieval on a BEIR-format dataset (corpus.jsonl, queries.jsonl, qrels/).

Each corpus document is written as its own text file (title, blank line, text), indexed
through Folio's real pipeline (extract, chunk, embed, SQLite with sqlite-vec and FTS5), and
every test query is searched in keyword, vector and hybrid mode. Chunk hits are folded to
documents by their best chunk, and nDCG@10 is computed against the graded qrels.

    .venv/bin/python scripts/eval_beir.py ../shared/eval/scifact [--work DIR] [--json OUT]

The dataset is only read; files and the library go to --work (a temp folder by default).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from desktop.bench.stats import summarize
from desktop.library.search import MODES, Searcher
from desktop.session import Session


def load_beir(folder: Path, split: str) -> tuple[dict, dict, dict]:
    corpus = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            corpus[str(d["_id"])] = (d.get("title") or "", d.get("text") or "")
    queries = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            queries[str(q["_id"])] = q["text"]
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            qid, did, score = line.rstrip("\n").split("\t")[:3]
            qrels[qid][did] = int(score)
    return corpus, {q: queries[q] for q in qrels if q in queries}, qrels


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def write_corpus(corpus: dict, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for did, (title, text) in corpus.items():
        path = folder / f"{did}.txt"
        if not path.exists():
            path.write_text(f"{title}\n\n{text}\n" if title else f"{text}\n", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--work", type=Path, default=None, help="reuse a folder across runs")
    ap.add_argument("--depth", type=int, default=100, help="chunks retrieved per query")
    ap.add_argument("--json", type=Path, default=None, help="also write results here")
    args = ap.parse_args()

    corpus, queries, qrels = load_beir(args.dataset, args.split)
    work = args.work or Path(tempfile.mkdtemp(prefix="folio-beir-"))
    docs_dir = work / "docs"
    write_corpus(corpus, docs_dir)
    print(f"{len(corpus)} documents, {len(queries)} queries; work folder {work}", file=sys.stderr)

    out: dict[str, object] = {
        "dataset": str(args.dataset),
        "documents": len(corpus),
        "queries": len(queries),
    }
    with Session(library_path=work / "library.sqlite") as s:
        t = time.perf_counter()
        report = s.indexer.index([docs_dir])
        if report.chunks:
            out["index"] = {
                "seconds": round(time.perf_counter() - t, 1),
                "chunks": report.chunks,
                "chunks_per_s": round(report.chunks_per_s, 2),
                "docs_per_s": round((report.added + report.updated) / report.seconds, 2),
            }
        out["library_chunks"] = s.library.counts()["chunks"]
        rrf = Searcher(s.library, s.embedder, fusion="rrf")
        for mode in (*MODES, "hybrid-rrf"):
            searcher = rrf if mode == "hybrid-rrf" else s.searcher
            scores, latencies = [], []
            for qid, text in queries.items():
                t = time.perf_counter()
                result = searcher.search(text, k=args.depth, mode=mode.removesuffix("-rrf"))
                latencies.append((time.perf_counter() - t) * 1000)
                ranked = list(dict.fromkeys(Path(h.chunk.path).stem for h in result.hits))
                scores.append(ndcg_at(ranked, qrels[qid]))
            timing = summarize(latencies)
            out[mode] = {
                "ndcg@10": round(statistics.fmean(scores), 4),
                "p50_ms": timing["p50"],
                "p95_ms": timing["p95"],
            }
            print(
                f"{mode:8s} nDCG@10 {out[mode]['ndcg@10']:.4f}  "  # type: ignore[index]
                f"p50 {out[mode]['p50_ms']} ms",
                file=sys.stderr,
            )  # type: ignore[index]
        # The latency a user sees: a normal k=8 hybrid search.
        lat = []
        for text in list(queries.values())[:200]:
            t = time.perf_counter()
            s.searcher.search(text, k=8, mode="hybrid")
            lat.append((time.perf_counter() - t) * 1000)
        out["search_k8_hybrid_p50_ms"] = round(statistics.median(lat), 2)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
