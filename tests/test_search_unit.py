"""Fast unit tests of query building, fusion and the relevance gate (no models)."""

from __future__ import annotations

import pytest

from desktop.library.passage import ChunkRecord
from desktop.library.search import Fusion, Hit, fts_query
from desktop.library.search import fuse as _fuse
from desktop.rag.answer import relevant


def test_fts_query_quotes_terms_and_drops_stopwords() -> None:
    assert fts_query("What is the output of the Zorblax turbine?") == (
        '"output" OR "zorblax" OR "turbine"'
    )
    # FTS5 syntax in user text is neutralised, not interpreted.
    assert fts_query('NEAR(a b) "quoted" OR -x*') == '"near" OR "b" OR "quoted" OR "x"'
    assert fts_query("the of and") == '"the" OR "of" OR "and"'  # all stopwords: keep them
    assert fts_query("  ?! ") is None


def test_rrf_rewards_agreement_between_legs() -> None:
    vec = [(1, 0.9), (2, 0.8), (3, 0.7)]
    kw = [(3, 12.0), (4, 10.0), (1, 9.0)]
    fused = _fuse(vec, kw, "hybrid", Fusion("rrf"))
    order = [cid for cid, *_ in fused]
    assert order[:2] == [1, 3]  # in both legs
    assert set(order) == {1, 2, 3, 4}
    ranks = {cid: (vr, kr) for cid, _, vr, kr in fused}
    assert ranks[1] == (1, 3) and ranks[4] == (None, 2)
    assert [c for c, *_ in _fuse(vec, kw, "vector")] == [1, 2, 3]
    assert [c for c, *_ in _fuse(vec, kw, "keyword")] == [3, 4, 1]


def test_convex_fusion_keeps_score_margins() -> None:
    # Chunk 1 is far ahead in the vector leg and absent from the keyword leg; chunk 3 is a
    # middling match in both. Convex fusion weighs the margins, RRF only the ranks.
    vec = [(1, 0.90), (3, 0.50), (2, 0.48), (5, 0.40)]
    kw = [(4, 20.0), (3, 11.0), (6, 10.0), (7, 2.0)]
    half = Fusion("convex", vector_weight=0.5)
    convex = [cid for cid, *_ in _fuse(vec, kw, "hybrid", half)]
    assert convex[:3] == [1, 4, 3]
    scores = {cid: s for cid, s, *_ in _fuse(vec, kw, "hybrid", half)}
    assert scores[1] == 0.5 and scores[4] == 0.5
    assert abs(scores[3] - (0.5 * 0.2 + 0.5 * 0.5)) < 1e-9
    rrf = [cid for cid, *_ in _fuse(vec, kw, "hybrid", Fusion("rrf"))]
    assert rrf[0] == 3  # second in both legs wins under RRF


def test_tmm_fusion_divides_by_the_best_score_from_zero() -> None:
    # Unlike min-max, the last candidate of a leg keeps its share of the best score; a
    # cosine below 0 counts as no match.
    vec = [(1, 0.8), (2, 0.4), (3, -0.2)]
    kw = [(2, 10.0), (4, 5.0)]
    fusion = Fusion("tmm", vector_weight=0.75)
    scores = {cid: s for cid, s, *_ in _fuse(vec, kw, "hybrid", fusion)}
    assert abs(scores[1] - 0.75) < 1e-12
    assert abs(scores[2] - (0.75 * 0.5 + 0.25 * 1.0)) < 1e-12
    assert scores[3] == 0.0 and abs(scores[4] - 0.25 * 0.5) < 1e-12
    assert [c for c, *_ in _fuse(vec, kw, "hybrid", fusion)] == [1, 2, 4, 3]
    with pytest.raises(ValueError):
        Fusion("tmm", vector_weight=1.5)


def test_fill_ranks_keyword_only_candidates_by_their_cosine() -> None:
    # Chunk 4 only the keyword leg found; its cosine (0.85) puts it second in the vector
    # leg, so RRF now sees it near the top of both legs and ranks it first.
    vec = [(1, 0.9), (2, 0.8), (3, 0.7)]
    kw = [(4, 12.0), (3, 10.0), (5, 9.0)]
    cosines = {4: 0.85, 5: 0.1}
    plain = Fusion("rrf", rrf_k=10)
    filled = Fusion("rrf", rrf_k=10, fill=True)
    assert [c for c, *_ in _fuse(vec, kw, "hybrid", plain, cosines)][0] == 3
    fused = _fuse(vec, kw, "hybrid", filled, cosines)
    assert [c for c, *_ in fused][:2] == [4, 3]
    ranks = {cid: (vr, kr) for cid, _, vr, kr in fused}
    assert ranks[4] == (2, 1) and ranks[5] == (5, 3) and ranks[2] == (3, None)
    assert [c for c, *_ in _fuse(vec, kw, "vector", filled, cosines)] == [1, 2, 3]


def test_weighted_rrf_and_depth_by_hand() -> None:
    vec = [(1, 0.9), (2, 0.8), (3, 0.7)]
    kw = [(3, 5.0), (4, 4.0)]
    fusion = Fusion("rrf", rrf_k=10, vector_weight=2.0, depth=2)
    scores = {cid: s for cid, s, *_ in _fuse(vec, kw, "hybrid", fusion)}
    # depth 2 drops chunk 3 from the vector leg; it keeps its keyword rank 1.
    assert abs(scores[1] - 2 / 11) < 1e-12 and abs(scores[2] - 2 / 12) < 1e-12
    assert abs(scores[3] - 1 / 11) < 1e-12 and abs(scores[4] - 1 / 12) < 1e-12
    assert [c for c, *_ in _fuse(vec, kw, "hybrid", fusion)] == [1, 2, 3, 4]


def _hit(sim: float | None, kw_rank: int | None, text: str = "text") -> Hit:
    chunk = ChunkRecord(1, 1, "/x.txt", None, None, text, 0, len(text))
    return Hit(chunk, 0.1, 1, kw_rank, sim)


def test_relevance_gate() -> None:
    assert relevant([_hit(0.5, None)])
    assert not relevant([_hit(0.3, 1)]), "keyword matches alone must not pass a weak question"
    kept = relevant([_hit(0.5, 1), _hit(0.3, None), _hit(0.1, 2)])
    assert [h.similarity for h in kept] == [0.5, 0.3]  # weak-but-related context stays
    assert relevant([_hit(None, 1)])  # keyword mode: no similarities to judge


def test_relevance_gate_counts_keyword_evidence() -> None:
    page = "The last keeper, Morag Duncan, left in 1994, when the light was automated."
    # The embedder scores the question low (it lacks "lighthouse"), but the passage holds
    # its content words: it is answered, not refused.
    assert relevant([_hit(0.2, 1, page)], "Who was the last keeper?")
    # One shared word is not evidence; nor is a passage the keyword leg did not find.
    assert not relevant([_hit(0.2, 1, page)], "Who was the last emperor of China?")
    assert not relevant([_hit(0.2, None, page)], "Who was the last keeper?")


def test_attribution_keeps_supported_citations_and_corrects_wrong_ones() -> None:
    from desktop.evaluate.attribution import attribute
    from desktop.library.passage import Citation

    turbine = Citation.numbered(
        1, ChunkRecord(10, 1, "/r.pdf", 2, None, "The Zorblax turbine produced 42 megawatts.", 0, 9)
    )
    bread = Citation.numbered(
        2, ChunkRecord(11, 2, "/n.md", None, None, "The sourdough starter is named Gregory.", 0, 9)
    )
    answer = "The Zorblax turbine produced 42 megawatts [2]."
    assert attribute(answer, [2], [turbine, bread]) == [turbine]  # [2] does not support it
    assert attribute(answer, [1], [turbine, bread]) == [turbine]
    assert attribute("No idea at all, sorry.", [], [turbine, bread]) == []
