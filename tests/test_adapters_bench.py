"""`bench_adapters`: hot swap and reload measured in one run, on the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop.bench.adapters import bench_adapters


@pytest.mark.slow
def test_bench_reports_both_paths_and_their_ratios(tmp_path: Path, chat_model_path: Path) -> None:
    MODEL = chat_model_path
    report = bench_adapters(MODEL, adapters_dir=tmp_path / "none-here", runs=1, max_tokens=2)
    json.dumps(report)  # the --json contract
    assert report["runs"] == 1 and len(report["adapters"]) == 2
    hot, reload = report["hot_swap"], report["reload"]
    for figures in (hot, reload):
        assert figures["switch_ms_p50"] > 0 and figures["ttft_ms_p50"] > 0
    assert hot["ttft_ms_p50_without_prefix_cache"] > 0
    assert 0 < report["cached_prefix_tokens"] < report["prompt_tokens"]
    # Reloading the model is a different order of magnitude from switching adapters.
    assert reload["switch_ms_p50"] > 10 * hot["switch_ms_p50"]
    assert report["ratio"]["switch"] == pytest.approx(
        reload["switch_ms_p50"] / hot["switch_ms_p50"], rel=0.05
    )
    assert set(report["ratio"]) == {"switch", "ttft", "switch_plus_ttft"}
