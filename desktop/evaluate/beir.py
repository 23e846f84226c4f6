"""`folio eval beir`: keyword, vector and hybrid retrieval on a BEIR-format collection.

Each document becomes a text file (title, blank line, text) indexed through Folio's real
pipeline. For each query both legs are searched once, deep enough for every fusion being
compared, and chunk hits are folded to documents by their best chunk (the first 10
distinct documents are scored). Beside the shipped hybrid and its legs every report has
plain FTS5 BM25 over an OR of the query's words and plain RRF (k=60) over the same two legs.
`--tune` chooses the keyword leg's heading weight and the fusion on one split (a training
split: `desktop/evaluate/fusion_tuning.py`), for reporting on another.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from desktop.evaluate.metrics import mean, ndcg_at, recall_at, reciprocal_rank
from desktop.evaluate.stats import summarize
from desktop.library import keywords
from desktop.library.columns import as_int, as_str
from desktop.library.rescore import Bm25
from desktop.library.search import (
    DEFAULT_FUSION,
    Fusion,
    Mode,
    Searcher,
    fuse,
    missing_cosines,
)
from desktop.library.store import Library

# The two legs, each scored alone beside the hybrid.
LEG_MODES: tuple[Mode, Mode] = ("keyword", "vector")

Corpus = dict[str, tuple[str, str]]
Qrels = dict[str, dict[str, int]]
Say = Callable[[str], None]
# A query's vector leg, keyword leg, and the exact cosines of the keyword candidates the
# vector leg lacks (for fusions that fill them in).
Legs = tuple[list[tuple[int, float]], list[tuple[int, float]], dict[int, float]]

# Candidates per leg for the single-leg modes: enough for recall@100 over documents.
LEG_DEPTH = 200
# The bars the shipped hybrid is held to in every report: plain RRF (the textbook k=60)
# over the same two legs, and the fusions shipped before.
PLAIN_RRF = "plain-rrf-60"
BASELINES = {
    PLAIN_RRF: Fusion("rrf", 60, 1.0, 100),
    "rrf-10 (shipped before)": Fusion("rrf", 10, 1.0, 100),
    "convex-0.5 (shipped before that)": Fusion("convex", 60, 0.5, 100),
}
# Plain FTS5 BM25 with an OR of every query word (keywords.plain_search): the bar for the
# keyword leg.
PLAIN_BM25 = "plain-bm25-or"


def load_beir(folder: Path, split: str) -> tuple[Corpus, dict[str, str], Qrels]:
    """corpus {id: (title, text)}, the split's queries {id: text} and qrels {qid: {did: grade}}."""
    folder = Path(folder)
    corpus: Corpus = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            corpus[str(d["_id"])] = (d.get("title") or "", d.get("text") or "")
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            queries[str(q["_id"])] = q["text"]
    qrels: Qrels = defaultdict(dict)
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            qid, did, score = line.rstrip("\n").split("\t")[:3]
            qrels[qid][did] = int(score)
    return corpus, {q: queries[q] for q in qrels if q in queries}, dict(qrels)


def write_corpus(corpus: Corpus, folder: Path) -> None:
    """One text file per document (kept if already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    for did, (title, text) in corpus.items():
        path = folder / f"{did}.txt"
        if not path.exists():
            path.write_text(f"{title}\n\n{text}\n" if title else f"{text}\n", encoding="utf-8")


def doc_ranking(chunk_ids: Iterable[int], doc_of: dict[int, str]) -> list[str]:
    """Documents in the order of their best chunk."""
    return list(dict.fromkeys(doc_of[c] for c in chunk_ids if c in doc_of))


def scores_for(ranked: Sequence[str], rels: dict[str, int]) -> dict[str, float]:
    """The four reported metrics of one query."""
    return {
        "ndcg@10": ndcg_at(ranked, rels, 10),
        "recall@10": recall_at(ranked, rels, 10),
        "recall@100": recall_at(ranked, rels, 100),
        "mrr@10": reciprocal_rank(ranked, rels, 10),
    }


class LegCache:
    """Both legs of every query searched once at LEG_DEPTH, the query vectors, and the
    plain BM25-OR baseline's ranking."""

    def __init__(self, searcher: Searcher, queries: dict[str, str], say: Say | None = None) -> None:
        self.searcher = searcher
        self.queries = queries
        self.legs: dict[str, Legs] = {}
        self.plain: dict[str, list[tuple[int, float]]] = {}
        self.vectors: dict[str, np.ndarray] = {}
        self.latency_ms: list[float] = []
        db = searcher.library.db
        for i, (qid, text) in enumerate(queries.items()):
            t = time.perf_counter()
            vec, kw, qvec, _ = searcher.legs(text, LEG_DEPTH)
            self.latency_ms.append((time.perf_counter() - t) * 1000)
            assert qvec is not None
            self.vectors[qid] = qvec
            self.legs[qid] = (vec, kw, missing_cosines(db, qvec, vec, kw))
            self.plain[qid] = keywords.plain_search(db, text, LEG_DEPTH)
            if say is not None and (i + 1) % 100 == 0:
                say(f"searched {i + 1}/{len(queries)} queries")

    def with_keyword_leg(
        self, heading_weight: float = keywords.HEADING_WEIGHT, bm25: Bm25 = keywords.BM25
    ) -> dict[str, Legs]:
        """Every query's legs with the keyword leg searched again under this heading weight
        and these BM25 constants."""
        db = self.searcher.library.db
        out: dict[str, Legs] = {}
        for qid, (vec, _, _) in self.legs.items():
            kw = keywords.keyword_search(
                db, self.queries[qid], LEG_DEPTH, heading_weight=heading_weight, bm25=bm25
            )
            out[qid] = (vec, kw, missing_cosines(db, self.vectors[qid], vec, kw))
        return out


def evaluate(
    legs: dict[str, Legs], qrels: Qrels, doc_of: dict[int, str], mode: Mode, fusion: Fusion
) -> dict[str, float]:
    """Mean metrics of one mode (and fusion) over every query."""
    per_query: dict[str, list[float]] = defaultdict(list)
    for qid, (vec, kw, cosines) in legs.items():
        ranked = doc_ranking((cid for cid, *_ in fuse(vec, kw, mode, fusion, cosines)), doc_of)
        for name, value in scores_for(ranked, qrels[qid]).items():
            per_query[name].append(value)
    return {name: round(mean(values), 4) for name, values in per_query.items()}


def score_modes(legs: LegCache, qrels: Qrels, doc_of: dict[int, str]) -> dict[str, object]:
    """Each leg alone, plain BM25-OR, the shipped hybrid and the baseline fusions; and
    whether the hybrid holds up against each leg and plain RRF, and the keyword leg against
    plain BM25-OR."""
    whole = Fusion(depth=LEG_DEPTH)
    modes: dict[str, dict[str, float]] = {
        m: evaluate(legs.legs, qrels, doc_of, m, whole) for m in LEG_MODES
    }
    plain: dict[str, Legs] = {qid: ([], kw, {}) for qid, kw in legs.plain.items()}
    modes[PLAIN_BM25] = evaluate(plain, qrels, doc_of, "keyword", whole)
    modes["hybrid"] = evaluate(legs.legs, qrels, doc_of, "hybrid", DEFAULT_FUSION)
    for name, fusion in BASELINES.items():
        modes[name] = evaluate(legs.legs, qrels, doc_of, "hybrid", fusion)
    hybrid = modes["hybrid"]["ndcg@10"]
    return {
        "fusion": asdict(DEFAULT_FUSION),
        "heading_weight": keywords.HEADING_WEIGHT,
        "modes": modes,
        "hybrid_beats_best_leg": hybrid >= max(modes[m]["ndcg@10"] for m in LEG_MODES),
        "hybrid_beats_plain_rrf": hybrid >= modes[PLAIN_RRF]["ndcg@10"],
        "keyword_beats_plain_bm25": modes["keyword"]["ndcg@10"] >= modes[PLAIN_BM25]["ndcg@10"],
    }


def chunk_documents(library: Library) -> dict[int, str]:
    """chunk id -> document id (the file's stem) for every chunk of the library."""
    rows = library.db.execute(
        "SELECT c.id, d.path FROM chunks c JOIN documents d ON d.id = c.document_id"
    )
    return {as_int(cid): Path(as_str(path)).stem for cid, path in rows}


def run_beir(
    dataset: Path,
    work: Path,
    split: str = "test",
    do_tune: bool = False,
    say: Say | None = None,
) -> dict[str, object]:
    """Index the collection (once per work folder) and report every mode's metrics."""
    from desktop.session import Session

    corpus, queries, qrels = load_beir(dataset, split)
    docs = Path(work) / "docs"
    write_corpus(corpus, docs)
    out: dict[str, object] = {
        "dataset": str(dataset),
        "split": split,
        "documents": len(corpus),
        "queries": len(queries),
        "load": [round(x, 2) for x in os.getloadavg()],
    }
    with Session.from_environment(Path(work) / "library.sqlite") as s:
        t = time.perf_counter()
        report = s.indexer.index([docs])
        if report.chunks:
            out["index_s"] = round(time.perf_counter() - t, 1)
        doc_of = chunk_documents(s.library)
        out["chunks"] = len(doc_of)
        searcher = Searcher(s.library, s.embedder)
        legs = LegCache(searcher, queries, say)
        out.update(score_modes(legs, qrels, doc_of))
        out["legs_ms"] = summarize(legs.latency_ms)
        if do_tune:
            from desktop.evaluate.fusion_tuning import tune

            out["tuned"] = tune(legs, qrels, doc_of, say)
    return out


def run_squad_retrieval(
    path: Path,
    work: Path,
    say: Say | None = None,
    articles: int = 0,
    questions: int = 0,
    do_tune: bool = False,
) -> dict[str, object]:
    """The same modes and metrics on a SQuAD-format file: each question's one relevant
    document is its own paragraph (XQuAD: 1,190 questions over 240 paragraphs).
    `articles` and `questions` (0: all) take that many spread evenly over the file (for a
    training set such as SQuAD train, too large to embed whole here); `do_tune` as in
    `run_beir`."""
    from desktop.evaluate.squad import load_squad, of_articles, spread_questions, write_paragraphs
    from desktop.session import Session

    data = load_squad(path)
    if articles:
        data = of_articles(data, articles)
    if questions:
        data = replace(data, questions=spread_questions(data.questions, questions))
    folder = Path(work) / "paragraphs"
    write_paragraphs(data, folder)
    queries = {q.qid: q.question for q in data.questions}
    qrels = {q.qid: {q.paragraph: 1} for q in data.questions}
    out: dict[str, object] = {
        "dataset": str(path),
        "documents": len(data.paragraphs),
        "queries": len(queries),
        "load": [round(x, 2) for x in os.getloadavg()],
    }
    with Session.from_environment(Path(work) / "library.sqlite") as s:
        s.indexer.index([folder])
        doc_of = chunk_documents(s.library)
        out["chunks"] = len(doc_of)
        legs = LegCache(Searcher(s.library, s.embedder), queries, say)
        out.update(score_modes(legs, qrels, doc_of))
        if do_tune:
            from desktop.evaluate.fusion_tuning import tune

            out["tuned"] = tune(legs, qrels, doc_of, say)
    return out
