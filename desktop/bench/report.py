"""The benchmark report: results.json, a Markdown table of every target and PNG plots.

`targets` reads whatever parts of a `folio bench all` run (and `folio eval` results placed
beside it) are present and says, for each target of the speed work, the measured figure,
the naive baseline from the same run, and whether it is met.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from desktop.json_types import JSON, JSONObject, as_object

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from desktop.bench.results import (
        BenchResults,
        IndexSize,
        ServedResult,
        ServedRow,
        SizeResult,
    )


class Row(TypedDict):
    """One target: the measured figure, the naive one from the same run, and whether met."""

    target: str
    measured: float
    naive: float | None
    met: bool | None
    unit: str


def _get(data: JSON, *path: str) -> JSON:
    """The value at `path` in free-form JSON (the `eval` part), None where any key is missing."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _number(value: JSON, where: str) -> float:
    """A JSON number as it is (an int stays an int); a ValueError naming `where` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: expected a number, got {type(value).__name__}")
    return value


def _ndcg(modes: JSONObject, mode: str, workload: str) -> float:
    """nDCG@10 of one retrieval mode in a `folio eval beir` result."""
    where = f"eval.beir.{workload}.modes.{mode}"
    return _number(as_object(modes[mode], where)["ndcg@10"], where)


def _sizes(results: BenchResults) -> dict[str, SizeResult]:
    retrieval = results.get("retrieval")
    return retrieval.get("sizes", {}) if retrieval else {}


def _row(
    target: str, measured: float, naive: float | None, met: bool | None, unit: str = ""
) -> Row:
    return {"target": target, "measured": measured, "naive": naive, "met": met, "unit": unit}


def _at_most(target: str, part: Mapping[str, Any], key: str, limit: float, unit: str) -> Row:
    """A target met when Folio's `key` in `part` stays at or under `limit`, naive's beside it."""
    folio = part["folio"][key]
    return _row(target, folio, part["naive"][key], folio <= limit, unit)


def _index_rows(label: str, size: IndexSize) -> list[Row]:
    folio, naive = size["folio"], size["naive"]
    first_hit = folio["first_keyword_hit_s"]
    return [
        _row(
            f"indexing ≥ 2× the naive loop, chunks/s ({label})",
            folio["chunks_per_s"],
            naive["chunks_per_s"],
            (size["ratio_chunks_per_s"] or 0) >= 2,
        ),
        _row(
            f"first keyword hit ≤ 10 s after the drop ({label})",
            first_hit,
            None,
            0 <= first_hit <= 10,
            "s",
        ),
        _row(f"all text searchable ({label})", folio["all_text_s"], None, None, "s"),
        _row(f"every chunk embedded ({label})", folio["embedded_s"], None, None, "s"),
        _row(
            f"re-index of unchanged files embeds 0 chunks ({label})",
            folio["reindex_embedded"],
            None,
            folio["reindex_embedded"] == 0,
        ),
        _at_most(f"peak RSS ≤ 600 MB while indexing ({label})", size, "peak_rss_mb", 600, "MB"),
    ]


def targets(results: BenchResults) -> list[Row]:
    """One row per target that this run measured."""
    rows: list[Row] = []
    for name, rag in (results.get("rag") or {}).items():
        first_token = rag.get("first_token_ms", {})
        folio = first_token.get("folio", {}).get("p50")
        naive = first_token.get("naive", {}).get("p50")
        if folio is None or naive is None:
            continue
        rows.append(
            _row(f"TTFT p50 ≤ 1.0 s ({name})", folio / 1000, naive / 1000, folio <= 1000, "s")
        )
        ratio = folio / naive if naive else math.inf
        rows.append(_row(f"TTFT ≤ 0.25× naive ({name})", round(ratio, 3), 1.0, ratio <= 0.25, "×"))
    evaluated = results.get("eval")
    squad = _get(evaluated, "squad", "pipelines")
    if isinstance(squad, dict) and "folio" in squad and "naive" in squad:
        folio_eval = as_object(squad["folio"], "eval.squad.pipelines.folio")
        naive_eval = as_object(squad["naive"], "eval.squad.pipelines.naive")
        for metric in ("citation_of_gold", "f1"):
            f = _number(folio_eval[metric], f"eval.squad folio {metric}")
            n = _number(naive_eval[metric], f"eval.squad naive {metric}")
            rows.append(_row(f"squad {metric} within 1 point of naive", f, n, f >= n - 1.0, "%"))
    sizes = _sizes(results)
    for size, limit in (("100000", 20.0), ("1000000", 60.0)):
        r = sizes.get(size)
        if r is None:
            continue
        label = "1M" if int(size) == 1_000_000 else f"{int(size) // 1000}k"
        rows.append(
            _row(
                f"search p50 ≤ {limit:g} ms at {label}",
                r["search_ms"]["p50"],
                r["naive_search_ms_p50"],
                r["search_ms"]["p50"] <= limit,
                "ms",
            )
        )
        rows.append(
            _row(f"recall@10 ≥ 0.95 at {label}", r["recall_at_10"], 1.0, r["recall_at_10"] >= 0.95)
        )
        kw = r["stages_ms_p50"]["keyword"]
        rows.append(
            _row(
                f"keyword leg p50 within the {limit:g} ms budget at {label}",
                kw,
                None,
                kw <= limit,
                "ms",
            )
        )
    index = results.get("index")
    for files, dropped in (index["sizes"] if index else {}).items():
        rows.extend(_index_rows(f"{int(files):,} files", dropped))
    memory = results.get("memory")
    if memory:
        chunks = memory["folio"]["chunks"]
        if "peak_rss_searching_mb" in memory["folio"]:
            target = f"peak RSS ≤ 600 MB, {chunks} chunks open, searching"
            rows.append(_at_most(target, memory, "peak_rss_searching_mb", 600, "MB"))
        target = f"peak RSS ≤ 600 MB, {chunks} chunks open, answering"
        rows.append(_at_most(target, memory, "peak_rss_mb", 600, "MB"))
        if "library_open_ms" in memory["folio"]:
            target = f"opening a library of {chunks} chunks ≤ 1 s"
            rows.append(_at_most(target, memory, "library_open_ms", 1000, "ms"))
    startup = results.get("startup")
    if startup:
        target = "window shown ≤ 1.5 s from a cold start"
        rows.append(_at_most(target, startup, "window_shown_s", 1.5, "s"))
    for name, value in as_object(_get(evaluated, "beir") or {}, "eval.beir").items():
        beir = as_object(value, f"eval.beir.{name}")
        modes = as_object(beir["modes"], f"eval.beir.{name}.modes")
        hybrid = _ndcg(modes, "hybrid", name)
        best = max(_ndcg(modes, "keyword", name), _ndcg(modes, "vector", name))
        rows.append(_row(f"{name}: hybrid nDCG@10 ≥ its better leg", hybrid, best, hybrid >= best))
        plain = _get(modes, "plain-rrf-60", "ndcg@10")
        plain_rrf = None if plain is None else _number(plain, f"eval.beir.{name} plain RRF")
        if plain_rrf is not None:
            target = f"{name}: hybrid nDCG@10 ≥ plain RRF (k=60)"
            rows.append(_row(target, hybrid, plain_rrf, hybrid >= plain_rrf))
        if "scifact" in name.lower() and beir.get("split") == "test":
            rows.append(_row("SciFact nDCG@10 ≥ 0.74", hybrid, plain_rrf, hybrid >= 0.74))
    return rows


def _fmt(value: float | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def markdown(results: BenchResults) -> str:
    """The targets table as Markdown (measured, naive from the same run, met or MISSED), and
    the served-engine table of `bench rag --engine` where it ran."""
    rows = targets(results)
    served = results.get("rag_served")
    lines = []
    if rows or not served:
        lines += ["| target | measured | naive, same run | met |", "| --- | --- | --- | --- |"]
    for r in rows:
        unit = f" {r['unit']}" if r["unit"] and r["unit"] != "×" else ("×" if r["unit"] else "")
        met = "–" if r["met"] is None else ("met" if r["met"] else "**MISSED**")
        naive = "–" if r["naive"] is None else f"{_fmt(r['naive'])}{unit}"
        lines.append(f"| {r['target']} | {_fmt(r['measured'])}{unit} | {naive} | {met} |")
    if served:
        if lines:
            lines.append("")
        lines += served_markdown(served)
    return "\n".join(lines) + "\n"


def served_markdown(served: ServedResult) -> list[str]:
    """The lines of the served-engine table: each engine with 1 and N clients asking at once."""
    lines = [
        f"## Answering through {served['url']} beside this computer",
        "",
        f"{served['workload']} workload, up to {served['max_tokens']} tokens an answer.",
        "",
        "| engine | clients | answers | answers/s | tokens/s | first token p50 / p95 "
        "| load before → after |",
        "|---|---|---|---|---|---|---|",
    ]
    for part, default in (
        (served.get("local", []), "this computer"),
        (served.get("server", []), "server"),
    ):
        for row in part:
            lines.append(_served_row(row, row.get("engine", default)))
    return lines


def _served_row(row: ServedRow, engine: str) -> str:
    first = row.get("first_token_ms")
    ttft = f"{first['p50']:,.0f} / {first['p95']:,.0f} ms" if first else "–"
    load = f"{row['load_before'][0]:.2f} → {row['load_after'][0]:.2f}"
    errors = row.get("errors")
    failed = f" (some failed: {errors[0]})" if errors else ""
    return (
        f"| {engine} | {row['clients']} | {row['answers']}{failed} | {row['answers_per_s']:.2f} "
        f"| {row['tokens_per_s']:.1f} | {ttft} | {load} |"
    )


def plots(results: BenchResults, out: Path) -> list[Path]:
    """PNG plots of what was measured (none if matplotlib is missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made: list[Path] = []

    def save(name: str, draw: Callable[[Axes], None]) -> None:
        fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
        draw(ax)
        fig.tight_layout()
        path = out / name
        fig.savefig(path)
        plt.close(fig)
        made.append(path)

    sizes = _sizes(results)
    if sizes:
        xs = sorted(int(s) for s in sizes)

        def latency(ax: Axes) -> None:
            shipped = [sizes[str(x)]["search_ms"]["p50"] for x in xs]
            naive = [sizes[str(x)]["naive_search_ms_p50"] for x in xs]
            keyword = [sizes[str(x)]["stages_ms_p50"]["keyword"] for x in xs]
            ax.plot(xs, naive, "o--", label="naive vector leg (sqlite-vec exact), rest as Folio")
            ax.plot(xs, shipped, "o-", label="Folio (whole search, embedding included)")
            ax.plot(xs, keyword, "s:", label="Folio keyword leg")
            ax.axhline(20, color="grey", lw=0.8)
            ax.axhline(60, color="grey", lw=0.8)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("chunks in the library")
            ax.set_ylabel("search p50 (ms)")
            ax.set_title("Search latency against library size")
            ax.legend(fontsize=8)

        save("latency_vs_size.png", latency)
    rag = results.get("rag")
    if rag:

        def ttft(ax: Axes) -> None:
            names = list(rag)
            configs = ["naive", "budget", "q8", "prefix", "folio"]
            width = 0.8 / max(1, len(names))
            for i, name in enumerate(names):
                first = rag[name].get("first_token_ms", {})
                vals = [(first.get(c, {}).get("p50") or 0) / 1000 for c in configs]
                ax.bar([j + i * width for j in range(len(configs))], vals, width, label=name)
            ax.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(configs))])
            ax.set_xticklabels(["naive", "+budget", "+Q8_0", "+prefix", "Folio (all)"])
            ax.axhline(1.0, color="grey", lw=0.8)
            ax.set_ylabel("time to first token, p50 (s)")
            ax.set_title("Each lever alone, and all together")
            ax.legend(fontsize=8)

        save("ttft_levers.png", ttft)
    return made


def write_report(results: BenchResults, out: Path) -> dict[str, Path]:
    """Write results.json, report.md and the plots into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "results.json", "markdown": out / "report.md"}
    files["json"].write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    files["markdown"].write_text("# Folio benchmark run\n\n" + markdown(results))
    for p in plots(results, out):
        files[p.stem] = p
    return files
