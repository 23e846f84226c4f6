"""The targets the shipped adapters must meet, judged on an eval result, and its summary.

Targets belong to the demo adapters (issue 8); any other adapter gets the table and a
summary line without targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from desktop.adapters.eval_record import TargetJSON
from desktop.json_types import attributes

if TYPE_CHECKING:
    from desktop.adapters.eval_record import AdapterEvalResult, Rates


@dataclass(frozen=True)
class Target:
    """One target: the adapter's figure, the base's beside it, and whether it is met."""

    name: str
    goal: str
    value: float | None
    base: float | None
    met: bool

    def to_json(self) -> TargetJSON:
        return cast(TargetJSON, attributes(self, TargetJSON.__annotations__))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _at_least(
    name: str, goal: str, value: float | None, bound: float | None, base: float | None
) -> Target:
    met = value is not None and bound is not None and value >= bound - 1e-9
    return Target(name, goal, value, base, met)


def judge(adapter: str, base: Rates, with_adapter: Rates) -> list[Target]:
    """The targets of `adapter` (empty for adapters without declared targets).

    Citations are judged as `folio ask` shows them (the model's own, kept when the passage
    supports the answer, else Folio's attribution), as in the issue's base figures; the
    model-written citations alone are reported beside them (`cites_fact`).
    """
    b, a = base, with_adapter
    if adapter == "bullet-brief":
        return [
            _at_least("format compliance", ">= 99%", a["compliance"], 0.99, b["compliance"]),
            _at_least(
                "answer contains gold", ">= base", a["contains_gold"], b["contains_gold"],
                b["contains_gold"],
            ),
            _at_least(
                "citation of the gold fact", ">= base", a["shown_cites_fact"],
                b["shown_cites_fact"], b["shown_cites_fact"],
            ),
        ]  # fmt: skip
    if adapter == "grounded":
        double = None if b["contains_gold"] is None else 2 * b["contains_gold"]
        floor = None if b["answer_rate"] is None else b["answer_rate"] - 0.05
        return [
            _at_least(
                "answer contains gold", ">= 2x base", a["contains_gold"], double, b["contains_gold"]
            ),
            _at_least(
                "citation of the gold fact", ">= 85%", a["shown_cites_fact"], 0.85,
                b["shown_cites_fact"],
            ),
            _at_least("refusal when unanswerable", ">= 80%", a["refusal"], 0.80, b["refusal"]),
            _at_least(
                "answer rate when answerable", ">= base - 5 points", a["answer_rate"], floor,
                b["answer_rate"],
            ),
        ]  # fmt: skip
    return []


def summary_line(result: AdapterEvalResult) -> str:
    """The adapter's measured effect in one line, for the Style tooltip."""
    b, a = result["base"], result["with_adapter"]
    parts = []
    if result.get("format_regex") and a.get("compliance") is not None:
        parts.append(
            f"format compliance {_pct(a['compliance'])} against {_pct(b['compliance'])} without"
        )
    if a.get("contains_gold") is not None:
        gold = _pct(a["contains_gold"])
        parts.append(f"answer holds the fact {gold} (without: {_pct(b['contains_gold'])})")
    if a.get("shown_cites_fact") is not None:
        cites = _pct(a["shown_cites_fact"])
        parts.append(f"cites the right passage {cites} ({_pct(b['shown_cites_fact'])})")
    if a.get("refusal") is not None:
        parts.append(f"declines unanswerable {_pct(a['refusal'])} ({_pct(b['refusal'])})")
    n = result.get("items", 0)
    return "; ".join(parts) + f" — {n} held-out questions, {result.get('when', '')}".rstrip(", ")
