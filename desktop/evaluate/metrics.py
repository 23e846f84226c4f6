"""Retrieval and reading-comprehension metrics, written out so each can be checked by hand.

Retrieval metrics take a ranked list of document ids (best first, no duplicates) and the
graded relevance judgements of one query (`{doc id: grade}`, grade > 0 is relevant).
Answer metrics follow the official SQuAD v1.1 script: answers are compared after lower
casing and removing punctuation, articles and extra whitespace.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

Qrels = Mapping[str, int]


def dcg(grades: Iterable[float]) -> float:
    """Discounted cumulative gain of grades in rank order (rank 1 has discount log2(2) = 1)."""
    return sum(g / math.log2(i + 2) for i, g in enumerate(grades))


def ndcg_at(ranked: Sequence[str], rels: Qrels, k: int = 10) -> float:
    """nDCG@k with linear gains, as BEIR reports it; 0 for a query with no relevant doc."""
    ideal = dcg(sorted((g for g in rels.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg(max(rels.get(d, 0), 0) for d in ranked[:k]) / ideal


def recall_at(ranked: Sequence[str], rels: Qrels, k: int) -> float:
    """Share of the relevant documents found in the first k."""
    relevant = {d for d, g in rels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], rels: Qrels, k: int = 10) -> float:
    """1 / rank of the first relevant document in the first k (0 if none): MRR@k per query."""
    for i, d in enumerate(ranked[:k]):
        if rels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def overlap_at(found: Sequence[int], exact: Sequence[int], k: int = 10) -> float:
    """recall@k of an approximate search against the exact one: shared ids / k."""
    truth = list(exact[:k])
    if not truth:
        return 1.0
    return len(set(found[:k]).intersection(truth)) / len(truth)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall between two normalised answers."""
    pred, truth = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = Counter(pred) & Counter(truth)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(truth)
    return 2 * precision * recall / (precision + recall)


def f1(prediction: str, golds: Sequence[str]) -> float:
    """The best token F1 of the prediction against any gold answer."""
    return max((token_f1(prediction, g) for g in golds), default=0.0)


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean, 0 for an empty sequence."""
    return sum(values) / len(values) if values else 0.0
