"""`folio bench rag` on the sample folder with the real models: every config measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop.bench.rag import CONFIGS, bench_rag
from desktop.bench.workload import make_workload


@pytest.mark.slow
def test_bench_rag_measures_every_config_beside_naive(tmp_path: Path) -> None:
    workload = make_workload("sample", tmp_path, questions=1)
    out = bench_rag(workload, tmp_path / "lib.sqlite", gen_tokens=8, gen_runs=1)
    assert out["questions"] == 1 and out["index"]["chunks"] > 0
    assert set(out["first_token_ms"]) == set(CONFIGS)
    assert all(v["n"] == 1 and v["p50"] > 0 for v in out["first_token_ms"].values())
    assert out["ratio_to_naive_p50"]["naive"] == 1.0
    assert out["models"] == {
        "naive": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "q8": "SmolLM2-135M-Instruct.Q8_0.gguf",
        "folio": "SmolLM2-135M-Instruct.Q4_1.gguf",  # the default, until Q8_0 is (see catalog)
        "folio_q8": "SmolLM2-135M-Instruct.Q8_0.gguf",
    }
    # The budget never adds tokens; the other levers keep the prompt as it was.
    tokens = out["prompt_tokens_mean"]
    assert tokens["budget"] <= tokens["naive"] == tokens["q8"] == tokens["prefix"]
    assert out["generation"]["folio_tokens_per_s"] > 0
    assert out["generation"]["raw_llama_cpp_tokens_per_s"] > 0
