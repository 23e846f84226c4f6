"""`folio eval beir --split train --tune`: the keyword leg's heading weight and the fusion,
chosen on a training split only.

Every setting of the grid is scored on the same cached legs (the vector leg is searched
once; the keyword leg once per heading weight). The best mean nDCG@10 is what ships
(`keywords.HEADING_WEIGHT`, `search.DEFAULT_FUSION`); the test split is scored afterwards,
once, with the shipped setting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict

from desktop.evaluate.beir import BASELINES, LEG_DEPTH, PLAIN_RRF, LegCache, Legs, Qrels, evaluate
from desktop.library import keywords
from desktop.library.search import Fusion

# The grid. Heading weights: 1 is FTS5's default (bm25() with no weights), 0 ignores the
# heading (a document's title, repeated on each of its chunks).
HEADING_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
RRF_KS = (5, 10, 20, 30, 60, 100)
RRF_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0)
CONVEX_WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
DEPTHS = (50, 100, 200)


def candidates() -> Iterator[Fusion]:
    """Every fusion of the grid: weighted RRF, and both score normalisations, each with and
    without the keyword-only candidates' cosines filled in."""
    for fill in (False, True):
        for depth in DEPTHS:
            for k in RRF_KS:
                for w in RRF_WEIGHTS:
                    yield Fusion("rrf", k, w, depth, fill)
            for method in ("convex", "tmm"):
                for w in CONVEX_WEIGHTS:
                    yield Fusion(method, 60, w, depth, fill)


def tune(
    legs: LegCache,
    qrels: Qrels,
    doc_of: dict[int, str],
    say: Callable[[str], None] | None = None,
) -> dict[str, object]:
    """The setting with the best mean nDCG@10 on these queries, the best of each fusion
    method, plain RRF and the keyword leg under each heading weight, and the whole grid."""
    grid: list[dict[str, object]] = []
    keyword_ndcg: dict[str, float] = {}
    plain_rrf: dict[str, float] = {}
    for weight in HEADING_WEIGHTS:
        searched: dict[str, Legs] = (
            legs.legs if weight == keywords.HEADING_WEIGHT else legs.with_heading_weight(weight)
        )
        whole = Fusion(depth=LEG_DEPTH)
        keyword_ndcg[str(weight)] = evaluate(searched, qrels, doc_of, "keyword", whole)["ndcg@10"]
        plain_rrf[str(weight)] = evaluate(searched, qrels, doc_of, "hybrid", BASELINES[PLAIN_RRF])[
            "ndcg@10"
        ]
        for fusion in candidates():
            ndcg = evaluate(searched, qrels, doc_of, "hybrid", fusion)["ndcg@10"]
            grid.append({**asdict(fusion), "heading_weight": weight, "ndcg@10": ndcg})
        if say is not None:
            say(f"tuned heading weight {weight}: {len(grid)} settings scored")
    best_per_method: dict[str, dict[str, object]] = {}
    for row in grid:  # the first of equals wins: the grid lists cheaper settings first
        name = f"{row['method']}{'+fill' if row['fill'] else ''}"
        held = best_per_method.get(name)
        if held is None or _ndcg(row) > _ndcg(held) + 1e-9:
            best_per_method[name] = row
    best = max(best_per_method.values(), key=_ndcg)
    return {
        "best": best,
        "best_per_method": best_per_method,
        "keyword_ndcg_by_heading_weight": keyword_ndcg,
        "plain_rrf_ndcg_by_heading_weight": plain_rrf,
        "grid": grid,
    }


def _ndcg(row: dict[str, object]) -> float:
    value = row["ndcg@10"]
    assert isinstance(value, float)
    return value
