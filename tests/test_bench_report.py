"""The report's targets table and plots, from a fixed results dictionary."""

from __future__ import annotations

from pathlib import Path

from desktop.bench.report import markdown, targets, write_report

RESULTS = {
    "rag": {
        "squad:x": {
            "first_token_ms": {"naive": {"p50": 2400.0}, "folio": {"p50": 550.0}},
        }
    },
    "retrieval": {
        "sizes": {
            "100000": {
                "search_ms": {"p50": 12.0},
                "naive_search_ms_p50": 150.0,
                "recall_at_10": 0.97,
                "stages_ms_p50": {"keyword": 4.0},
            },
            "1000000": {
                "search_ms": {"p50": 75.0},
                "naive_search_ms_p50": 900.0,
                "recall_at_10": 0.93,
                "stages_ms_p50": {"keyword": 30.0},
            },
        }
    },
    "eval": {
        "squad": {
            "pipelines": {
                "folio": {"f1": 30.0, "citation_of_gold": 70.0},
                "naive": {"f1": 30.5, "citation_of_gold": 72.0},
            }
        }
    },
}


def test_targets_are_judged_from_the_figures() -> None:
    rows = {r["target"]: r for r in targets(RESULTS)}
    assert rows["TTFT p50 ≤ 1.0 s (squad:x)"]["met"] is True
    ratio = rows["TTFT ≤ 0.25× naive (squad:x)"]
    assert ratio["measured"] == round(550 / 2400, 3) and ratio["met"] is True
    assert rows["search p50 ≤ 20 ms at 100k"]["met"] is True
    assert rows["search p50 ≤ 60 ms at 1M"]["met"] is False
    assert rows["recall@10 ≥ 0.95 at 1M"]["met"] is False
    assert rows["squad f1 within 1 point of naive"]["met"] is True
    assert rows["squad citation_of_gold within 1 point of naive"]["met"] is False


def test_report_files(tmp_path: Path) -> None:
    files = write_report(RESULTS, tmp_path)
    text = files["markdown"].read_text()
    assert "| search p50 ≤ 60 ms at 1M | 75 ms | 900 ms | **MISSED** |" in text
    assert files["json"].is_file()
    assert "**MISSED**" in markdown(RESULTS)
    for name in ("latency_vs_size", "ttft_levers"):
        assert files[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
