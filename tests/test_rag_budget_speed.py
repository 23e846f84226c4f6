"""The context budget follows the prefill speed measured on the machine."""

from __future__ import annotations

import pytest

from desktop.rag.answer import Answerer
from desktop.rag.budget import DEFAULT_BUDGET, MAX_WORDS, budget_for
from desktop.session import Session
from tests.fakes import ScriptedEngine

pytestmark = pytest.mark.fast


def test_a_two_core_laptop_keeps_the_default_and_faster_machines_get_more() -> None:
    assert budget_for(None) == DEFAULT_BUDGET
    assert budget_for(150.0) == DEFAULT_BUDGET  # the default model on 2 cores
    fast, faster, gpu = budget_for(400.0), budget_for(1000.0), budget_for(5000.0)
    assert DEFAULT_BUDGET.total_words < fast.total_words < faster.total_words
    assert gpu.total_words == MAX_WORDS and gpu.max_passages > fast.max_passages
    for b in (fast, faster, gpu):
        # What the machine reads in the target time: passages plus the fixed part.
        assert b.passage_words <= b.total_words


def test_the_answerer_sizes_each_prompt_by_the_engines_measured_speed(
    fake_session: Session,
) -> None:
    fake_session.configure(fake_session.settings.with_changes(answer_mode="write"))
    answerer = fake_session.answerer
    engine = fake_session.engine
    assert isinstance(engine, ScriptedEngine) and answerer.adaptive
    answerer.ask("anything")
    assert answerer.budget == DEFAULT_BUDGET  # nothing measured yet
    engine.prefill_rate = 2000.0
    answerer.ask("anything")
    assert answerer.budget == budget_for(2000.0) and answerer.budget != DEFAULT_BUDGET
    # A budget chosen by the caller (benchmarks) is kept whatever the speed.
    fixed = Answerer(answerer.searcher, engine, budget=DEFAULT_BUDGET.__class__(60, 60))
    fixed.ask("anything")
    assert fixed.budget == DEFAULT_BUDGET.__class__(60, 60)
