"""The JSON shapes of `folio eval adapter`: one model's rates, one answer and its score,
a target, and the whole result (printed with --json and stored as NAME.eval.json).

Types only: the modules that build and read these import nothing heavy through here.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from desktop.json_types import JSONObject

# The rates of `Rates` that the table shows, one row each.
RateKey = Literal[
    "answer_rate",
    "contains_gold",
    "cites_fact",
    "cites_gold_paragraph",
    "shown_cites_fact",
    "refusal",
    "compliance",
    "gold_retrieved",
]


class Rates(TypedDict):
    """One model's figures over the items (a rate is None when no item counts for it)."""

    answerable: int
    unanswerable: int
    leaky_skipped: int
    gold_retrieved: float | None
    answer_rate: float | None
    contains_gold: float | None
    cites_fact: float | None
    cites_gold_paragraph: float | None
    shown_cites_fact: float | None
    refusal: float | None
    compliance: float | None
    compliance_n: int
    median_seconds: float | None


class ScoreJSON(TypedDict):
    """desktop.evaluate.adapter_scoring.Score as JSON (its fields as they are)."""

    refused: bool
    contains_gold: bool
    cites_fact: bool
    cites_gold_source: bool
    shown_cites_fact: bool
    format_ok: bool | None
    n_citations: int


class ItemResultJSON(TypedDict):
    """One answer as the eval keeps it (and caches the base model's)."""

    item_id: str
    answerable: bool
    answer: str
    score: ScoreJSON
    gold_retrieved: bool
    leaky: bool
    seconds: float
    passages: list[list[str]]  # [text, source] as the model saw them


class TargetJSON(TypedDict):
    """desktop.evaluate.adapter_targets.Target as JSON."""

    name: str
    goal: str
    value: float | None
    base: float | None
    met: bool


class _Measured(TypedDict):
    """What `evaluate_adapter` returns."""

    adapter: str
    model: str
    items: int
    format_regex: str
    settings: JSONObject  # the retrieval settings the answers were given with
    base: Rates
    with_adapter: Rates
    answers: dict[str, list[ItemResultJSON]]  # "base" and "adapter"
    seconds: float
    load_average: list[float] | None
    when: str


class AdapterEvalResult(_Measured, total=False):
    """The result of `folio eval adapter`: the measurements, then what the command adds."""

    source: str  # where the questions came from
    targets: list[TargetJSON]
    summary: str  # the one line the Style tooltip shows
