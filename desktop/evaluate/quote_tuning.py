"""Choose the quote's weights and decline threshold (desktop/rag/quote.py) on SQuAD *train*.

    python -m desktop.evaluate.quote_tuning features \\
        --squad ../shared/train/squad1/train-v1.1.explorer.json.gz --work DIR --questions 500
    python -m desktop.evaluate.quote_tuning choose DIR/features.json

`features` samples articles of the SQuAD v1.1 training set (48 articles, 5 paragraphs each:
the shape of XQuAD, never XQuAD itself), indexes them as one text file per paragraph with
Folio's own indexer, and for each question records every sentence of the top passages that
Folio's searcher returns, with the question's own article in the library and without it.

`choose` then searches the weights (`quote.Weights`) for the most answers that hold the
gold answer, and lists, for each decline threshold, the share of answerable questions
refused against the share declined once the article is gone; the threshold it proposes is
the lowest that declines 90 % with at most 5 % refused. The evaluation sets in
../shared/eval are never read here.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from desktop.rag.quote import (
    QUOTE_PASSAGES,
    WEIGHTS,
    Weights,
    passage_sentences,
    score,
)

ARTICLES, PARAGRAPHS, SEED = 48, 5, 7
Row = dict[str, Any]  # one question's candidates, as written to features.json
GRID = {
    "keywords": (0.0, 0.35, 0.7, 1.0, 1.5, 2.0),
    "passage": (0.0, 0.3, 0.6, 1.0),
    "rank": (0.0, -0.02, -0.05),
    "answer_type": (0.0, 0.05, 0.1, 0.2),
}


def sample_squad(source: Path, out: Path) -> None:
    """A SQuAD-format file of ARTICLES articles x PARAGRAPHS paragraphs of `source`."""
    from desktop.train.squad_raft import read_squad

    data = read_squad(source)
    articles = data["data"]
    assert isinstance(articles, list)
    rng = random.Random(SEED)
    picked = [
        {
            "title": a["title"],
            "paragraphs": rng.sample(a["paragraphs"], min(PARAGRAPHS, len(a["paragraphs"]))),
        }
        for a in rng.sample(articles, ARTICLES)
    ]
    out.write_text(json.dumps({"version": "1.1", "data": picked}), encoding="utf-8")


def features(source: Path, work: Path, questions: int) -> Path:
    """Every candidate sentence's features, per question, with and without its article."""
    from desktop.evaluate.answers import WithoutArticle
    from desktop.evaluate.metrics import normalize_answer
    from desktop.evaluate.naive import bench_config
    from desktop.evaluate.squad import load_squad, spread_questions, write_paragraphs
    from desktop.rag.answer import relevant
    from desktop.session import Session

    work.mkdir(parents=True, exist_ok=True)
    sample = work / "squad-train-sample.json"
    sample_squad(source, sample)
    data = load_squad(sample)
    write_paragraphs(data, work / "paragraphs")
    rows: list[Row] = []
    with Session(bench_config(work / "library.sqlite", 2)) as s:
        s.indexer.index([work / "paragraphs"])
        embed = s.searcher.embedder
        for q in spread_questions(data.questions, questions):
            golds = [normalize_answer(g) for g in q.answers]
            qv = embed.embed_query(q.question)
            article = q.paragraph.split("-")[0] + "-"
            for removed, searcher in ((0, s.searcher), (1, WithoutArticle(s.searcher, article))):
                hits = relevant(searcher.search(q.question, 5).hits, q.question)
                cands: list[Row] = []
                for rank, h in enumerate(hits[:QUOTE_PASSAGES]):
                    sents = passage_sentences(h.chunk.text)
                    sims = (embed.embed_many(sents) @ qv).tolist() if sents else []
                    for sentence, sim in zip(sents, sims, strict=True):
                        norm = normalize_answer(sentence)
                        cands.append(
                            {
                                "rank": rank,
                                "sim": sim,
                                "psim": h.similarity or 0.0,
                                "text": sentence,
                                "contains": any(g and g in norm for g in golds),
                            }
                        )
                rows.append({"q": q.question, "removed": removed, "cands": cands})
    out = work / "features.json"
    out.write_text(json.dumps(rows), encoding="utf-8")
    return out


def _score(question: str, c: Row, w: Weights) -> float:
    return score(question, str(c["text"]), c["sim"], c["psim"], c["rank"], w)


def best_per_question(
    rows: Sequence[Row], w: Weights, removed: int
) -> list[tuple[float, bool, int]]:
    """(score, holds the gold answer, words) of each question's chosen sentence; a question
    with no candidate scores -inf (declined by the gate)."""
    out = []
    for r in rows:
        if r["removed"] != removed:
            continue
        cands = r["cands"]
        assert isinstance(cands, list)
        if not cands:
            out.append((float("-inf"), False, 0))
            continue
        question = str(r["q"])
        best = max(cands, key=lambda c: _score(question, c, w))
        out.append(
            (_score(question, best, w), bool(best["contains"]), len(str(best["text"]).split()))
        )
    return out


def choose(path: Path) -> Row:
    rows = json.loads(path.read_text(encoding="utf-8"))
    results = []
    for values in itertools.product(*GRID.values()):
        w = replace(WEIGHTS, **dict(zip(GRID, values, strict=True)))
        chosen = best_per_question(rows, w, 0)
        results.append((statistics.mean(c for _, c, _ in chosen), w))
    results.sort(key=lambda pair: -pair[0])
    share, w = results[0]
    plain = statistics.mean(
        c
        for _, c, _ in best_per_question(
            rows, replace(w, keywords=0, passage=0, rank=0, answer_type=0), 0
        )
    )
    answerable, removed = best_per_question(rows, w, 0), best_per_question(rows, w, 1)
    curve = []
    for tau in [x / 100 for x in range(20, 201, 5)]:
        curve.append(
            {
                "min_score": tau,
                "refused": round(statistics.mean(s < tau for s, _, _ in answerable), 3),
                "declined_removed": round(statistics.mean(s < tau for s, _, _ in removed), 3),
                "contains_gold": round(
                    statistics.mean(c and s >= tau for s, c, _ in answerable), 3
                ),
            }
        )
    # The threshold: the lowest that declines 90 % of the questions whose article is gone,
    # while refusing at most 5 % of the answerable ones (the bars, with a margin).
    fits = [t for t in curve if t["declined_removed"] >= 0.9 and t["refused"] <= 0.05]
    return {
        "questions": len(answerable),
        "min_score": fits[0]["min_score"] if fits else None,
        "runners_up": [
            {"contains_gold": round(c, 3), "weights": asdict(w)} for c, w in results[1:6]
        ],
        "similarity_only_contains_gold": round(plain, 3),
        "best_contains_gold": round(share, 3),
        "weights": asdict(w),
        "median_words": statistics.median(n for _, _, n in answerable),
        "thresholds": curve,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m desktop.evaluate.quote_tuning")
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("features")
    f.add_argument("--squad", type=Path, required=True)
    f.add_argument("--work", type=Path, required=True)
    f.add_argument("--questions", type=int, default=500)
    c = sub.add_parser("choose")
    c.add_argument("features", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "features":
        print(features(args.squad, args.work, args.questions))
    else:
        json.dump(choose(args.features), sys.stdout, indent=1)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
