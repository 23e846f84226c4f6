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
    "memory": {
        "folio": {
            "chunks": 1000000,
            "library_open_ms": 2.0,
            "peak_rss_searching_mb": 330.0,
            "peak_rss_mb": 640.0,
        },
        "naive": {
            "chunks": 1000000,
            "library_open_ms": 2.0,
            "peak_rss_searching_mb": 330.0,
            "peak_rss_mb": 700.0,
        },
        "load_1min": 1.0,
    },
    "eval": {
        "beir": {
            "scifact": {
                "split": "test",
                "modes": {
                    "keyword": {"ndcg@10": 0.69},
                    "vector": {"ndcg@10": 0.67},
                    "hybrid": {"ndcg@10": 0.73},
                    "plain-rrf-60": {"ndcg@10": 0.724},
                },
            }
        },
        "squad": {
            "pipelines": {
                "folio": {"f1": 30.0, "citation_of_gold": 70.0},
                "naive": {"f1": 30.5, "citation_of_gold": 72.0},
            }
        },
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
    assert rows["peak RSS ≤ 600 MB, 1000000 chunks open, searching"]["met"] is True
    assert rows["peak RSS ≤ 600 MB, 1000000 chunks open, answering"]["met"] is False
    assert rows["opening a library of 1000000 chunks ≤ 1 s"]["met"] is True
    assert rows["scifact: hybrid nDCG@10 ≥ plain RRF (k=60)"]["met"] is True
    scifact = rows["SciFact nDCG@10 ≥ 0.74"]
    assert scifact["met"] is False and scifact["measured"] == 0.73


def test_report_files(tmp_path: Path) -> None:
    files = write_report(RESULTS, tmp_path)
    text = files["markdown"].read_text()
    assert "| search p50 ≤ 60 ms at 1M | 75 ms | 900 ms | **MISSED** |" in text
    assert files["json"].is_file()
    assert "**MISSED**" in markdown(RESULTS)
    for name in ("latency_vs_size", "ttft_levers"):
        assert files[name].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _served_row(engine: str, clients: int, p50: float, p95: float) -> dict[str, object]:
    return {
        "engine": engine,
        "clients": clients,
        "answers": 4 * clients,
        "wall_s": 3.2,
        "answers_per_s": 1.251,
        "tokens_per_s": 34.43,
        "load_before": [0.8, 1.2, 2.7],
        "load_after": [1.84, 1.3, 2.7],
        "first_token_ms": {"p50": p50, "p95": p95, "n": 4 * clients},
    }


SERVED = {
    "rag_served": {
        "workload": "sample",
        "max_tokens": 64,
        "url": "http://127.0.0.1:8089",
        "local": [
            _served_row("this computer", 1, 369.0, 745.0),
            _served_row("this computer", 4, 1287.0, 2612.0),
        ],
        "server": [
            _served_row("llama-server", 1, 341.0, 623.0),
            {
                **_served_row("llama-server", 4, 447.0, 1686.0),
                "answers": 15,
                "errors": ["ServerError: the server is overloaded (503)"],
            },
        ],
    }
}


def test_the_served_rows_are_rendered_for_each_engine_and_client_count(tmp_path: Path) -> None:
    text = write_report(SERVED, tmp_path)["markdown"].read_text()
    assert "## Answering through http://127.0.0.1:8089 beside this computer" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "|---" not in line]
    assert rows[1:] == [
        "| this computer | 1 | 4 | 1.25 | 34.4 | 369 / 745 ms | 0.80 → 1.84 |",
        "| this computer | 4 | 16 | 1.25 | 34.4 | 1,287 / 2,612 ms | 0.80 → 1.84 |",
        "| llama-server | 1 | 4 | 1.25 | 34.4 | 341 / 623 ms | 0.80 → 1.84 |",
        "| llama-server | 4 | 15 (some failed: ServerError: the server is overloaded (503)) "
        "| 1.25 | 34.4 | 447 / 1,686 ms | 0.80 → 1.84 |",
    ]
    # Only the served part ran: no empty targets table above it.
    assert "| target |" not in text


def test_served_rows_without_an_engine_name_or_a_first_token() -> None:
    """results.json from before the engine was named, and a run where nothing answered."""
    old = SERVED["rag_served"]
    row = {k: v for k, v in old["server"][0].items() if k not in ("engine", "first_token_ms")}
    nothing = {**old, "local": [], "server": [{**row, "answers": 0}]}
    text = markdown({**RESULTS, "rag_served": nothing})
    assert "| search p50 ≤ 60 ms at 1M | 75 ms | 900 ms | **MISSED** |" in text
    assert "| server | 1 | 0 | 1.25 | 34.4 | – | 0.80 → 1.84 |" in text


def test_figures_without_a_target_are_not_called_missed() -> None:
    """`folio bench index` reports when all text was searchable and when every chunk was
    embedded: figures, not targets, so the table says neither met nor MISSED."""
    folio = {
        "chunks_per_s": 50.0,
        "first_keyword_hit_s": 0.4,
        "all_text_s": 7.0,
        "embedded_s": 120.0,
        "reindex_embedded": 0,
        "peak_rss_mb": 370.0,
    }
    naive = {"chunks_per_s": 24.0, "peak_rss_mb": 1100.0}
    size = {"files": 5000, "folio": folio, "naive": naive, "ratio_chunks_per_s": 50 / 24}
    text = markdown({"index": {"sizes": {"5000": size}}})
    assert "| all text searchable (5,000 files) | 7 s | – | – |" in text
    assert "| every chunk embedded (5,000 files) | 120 s | – | – |" in text
    assert "| indexing ≥ 2× the naive loop, chunks/s (5,000 files) | 50 | 24 | met |" in text
    assert "MISSED" not in text
