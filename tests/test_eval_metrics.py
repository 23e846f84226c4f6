"""Metric code against values computed by hand on tiny fixtures."""

from __future__ import annotations

import math

import pytest

from desktop.evaluate.metrics import (
    exact_match,
    f1,
    ndcg_at,
    normalize_answer,
    overlap_at,
    recall_at,
    reciprocal_rank,
    token_f1,
)


def test_ndcg_by_hand() -> None:
    rels = {"a": 2, "b": 1, "z": 1}
    ranked = ["b", "x", "a"]
    # DCG = 1/log2(2) + 0 + 2/log2(4) = 1 + 1 = 2; IDCG = 2/1 + 1/log2(3) + 1/log2(4)
    ideal = 2 + 1 / math.log2(3) + 0.5
    assert ndcg_at(ranked, rels, 10) == pytest.approx(2 / ideal)
    assert ndcg_at(["a", "b", "z"], rels, 10) == pytest.approx(1.0)
    assert ndcg_at(ranked, rels, 1) == pytest.approx(1 / 2)  # b (1) where a (2) was ideal
    assert ndcg_at(ranked, {}, 10) == 0.0
    assert ndcg_at(["x"], {"a": 0}, 10) == 0.0  # grade 0 is not relevant


def test_recall_and_mrr_by_hand() -> None:
    rels = {"a": 1, "b": 1, "c": 1, "d": 1}
    ranked = ["x", "a", "y", "b"]
    assert recall_at(ranked, rels, 2) == 0.25
    assert recall_at(ranked, rels, 10) == 0.5
    assert reciprocal_rank(ranked, rels, 10) == 0.5
    assert reciprocal_rank(ranked, rels, 1) == 0.0
    assert reciprocal_rank(["y", "y2", "c"], rels) == pytest.approx(1 / 3)


def test_overlap_is_recall_against_exact() -> None:
    assert overlap_at([1, 2, 3, 9], [1, 2, 3, 4], 4) == 0.75
    assert overlap_at([5, 4, 3, 2, 1], [1, 2, 3, 4, 5], 5) == 1.0  # order within k is free
    assert overlap_at([], [], 10) == 1.0


def test_squad_normalisation_and_scores() -> None:
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert exact_match("the Denver Broncos.", ["Denver Broncos", "Broncos"]) == 1.0
    assert exact_match("Denver", ["Denver Broncos"]) == 0.0
    # prediction "denver broncos won" vs gold "denver broncos": P = 2/3, R = 1, F1 = 0.8
    assert token_f1("Denver Broncos won", "Denver Broncos") == pytest.approx(0.8)
    assert f1("Denver Broncos won", ["Carolina", "Denver Broncos"]) == pytest.approx(0.8)
    assert token_f1("Carolina Panthers", "Denver Broncos") == 0.0
    # repeated tokens count once per match: "a a b" vs "a b b" -> common {a:1, b:1}
    assert token_f1("x x y", "x y y") == pytest.approx(2 / 3)
