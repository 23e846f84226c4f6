"""Choosing the shipped fusion across training sets (desktop/evaluate/fusion_tuning.py)."""

from __future__ import annotations

from desktop.evaluate.fusion_tuning import candidates, choose_across, choose_bm25


def _row(method: str, k: int, w: float, ndcg: float, hw: float = 1.0) -> dict[str, object]:
    return {
        "method": method,
        "rrf_k": k,
        "vector_weight": w,
        "depth": 100,
        "fill": False,
        "heading_weight": hw,
        "ndcg@10": ndcg,
    }


def test_the_best_mean_among_settings_that_hold_on_every_set() -> None:
    # tmm wins on the first set by most but falls below plain RRF on the second; rrf k=20
    # holds on both and has the best mean of those that do.
    first = {
        "grid": [
            _row("rrf", 60, 1.0, 0.70),
            _row("rrf", 20, 1.0, 0.72),
            _row("tmm", 60, 0.5, 0.80),
        ],
        "plain_rrf_ndcg_by_heading_weight": {"1.0": 0.70},
    }
    second = {
        "grid": [
            _row("rrf", 60, 1.0, 0.90),
            _row("rrf", 20, 1.0, 0.91),
            _row("tmm", 60, 0.5, 0.85),
        ],
        "plain_rrf_ndcg_by_heading_weight": {"1.0": 0.90},
    }
    chosen = choose_across([first, second])
    assert chosen["setting"] == {
        "method": "rrf",
        "rrf_k": 20,
        "vector_weight": 1.0,
        "depth": 100,
        "fill": False,
        "heading_weight": 1.0,
    }
    assert chosen["holds_against_plain_rrf_on_every_set"] is True
    assert chosen["candidates_that_hold"] == 2  # plain RRF itself holds, by equality
    assert chosen["mean_ndcg@10"] == round((0.72 + 0.91) / 2, 4)


def test_the_grid_has_every_method_with_and_without_fill() -> None:
    grid = list(candidates())
    assert {(f.method, f.fill) for f in grid} == {
        (m, fill) for m in ("rrf", "convex", "tmm") for fill in (False, True)
    }
    assert len(grid) == len(set(grid))


def _bm25_run(
    rows: list[tuple[float, float, float, float]], plain_rrf: float, plain_bm25: float
) -> dict[str, object]:
    grid = [{"k1": k1, "b": b, "ndcg@10": h, "keyword_ndcg@10": kw} for k1, b, h, kw in rows]
    return {
        "bm25": {"plain_rrf_ndcg@10": plain_rrf, "plain_bm25_ndcg@10": plain_bm25, "grid": grid}
    }


def test_bm25_constants_hold_both_bars_on_every_set() -> None:
    # (0.4, 0.1) has the best mean hybrid but its keyword leg falls below plain BM25-OR on
    # the second set; (0.9, 0.4) is below plain RRF on the first; (0.6, 0.2) holds both bars
    # on both sets and is chosen over FTS5's own constants.
    first = _bm25_run(
        [
            (0.4, 0.1, 0.76, 0.70),
            (0.6, 0.2, 0.75, 0.70),
            (0.9, 0.4, 0.71, 0.71),
            (1.2, 0.75, 0.74, 0.70),
        ],
        plain_rrf=0.72,
        plain_bm25=0.69,
    )
    second = _bm25_run(
        [
            (0.4, 0.1, 0.93, 0.85),
            (0.6, 0.2, 0.92, 0.88),
            (0.9, 0.4, 0.95, 0.88),
            (1.2, 0.75, 0.91, 0.88),
        ],
        plain_rrf=0.90,
        plain_bm25=0.87,
    )
    chosen = choose_bm25([first, second])
    assert chosen["setting"] == {"k1": 0.6, "b": 0.2}
    assert chosen["holds_on_every_set"] is True
    assert chosen["candidates_that_hold"] == 2
    assert chosen["mean_ndcg@10"] == round((0.75 + 0.92) / 2, 4)
