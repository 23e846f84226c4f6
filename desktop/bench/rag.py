"""`folio bench rag`: time to the first token of a cited answer, Folio beside the naive way.

On one workload (a real document folder and its questions, `desktop.bench.workload`),
every question is retrieved once and then answered, interleaved in a rotating order, by:
- `naive`: every relevant passage whole, the published Q4_1 file, the KV cache emptied
  first (`desktop.evaluate.naive`);
- one lever alone on top of naive: `budget` (the context budget), `q8` (the Q8_0 file made
  at setup), `prefix` (llama-cpp-python keeps the previous prompt, so the system prompt
  and chat template are not prefilled again);
- `folio`: the shipped answer path (Folio's answerer and engine, all levers), its time
  measured from the question, retrieval included;
- `folio_q8`: the same path with the Q8_0 file as the chat model (the same as `folio`
  where Q8_0 is the shipped default).
Each first token ends its generation. Generation speed is measured apart: Folio's engine
beside raw llama-cpp-python on the same prompt and model file.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

from desktop.bench.workload import Workload
from desktop.cancel import CancelToken
from desktop.evaluate.naive import (
    FAST_MODEL,
    STOCK_MODEL,
    RawModel,
    bench_config,
    first_piece_ms,
    rate,
    retrieve,
)
from desktop.evaluate.stats import summarize
from desktop.rag.budget import DEFAULT_BUDGET
from desktop.rag.prompt import messages_for

if TYPE_CHECKING:
    from desktop.bench.results import Generation, RagResult
    from desktop.engine.api import ChatEngine
    from desktop.session import Session

CONFIGS = ("naive", "budget", "q8", "prefix", "folio", "folio_q8")
SHIPPED = ("folio", "folio_q8")  # measured through a Session, not a raw model


def bench_rag(
    workload: Workload,
    library: Path,
    runs: int = 1,
    gen_tokens: int = 64,
    gen_runs: int = 3,
    threads: int = 0,
) -> RagResult:
    """TTFT of every config over every question (`runs` times), and generation speed.

    `threads` (0: Folio's default) is used by every config alike.
    """
    from desktop.models.installed import require_local
    from desktop.session import Session

    q8_config = bench_config(library, threads)
    q8_config = q8_config.with_settings(q8_config.settings.with_changes(chat_model=FAST_MODEL))
    with Session(bench_config(library, threads)) as s, Session(q8_config) as s_q8:
        t = time.perf_counter()
        report = s.indexer.index([workload.folder])
        index_s = time.perf_counter() - t
        engine = s.engine
        q8_name = Path(s_q8.engine.model_path).name
        n = threads or None
        stock_spec = s.catalog.get(STOCK_MODEL)
        stock = RawModel(require_local(stock_spec, s.locations.models_search_path), threads=n)
        fast_spec = s.catalog.get(FAST_MODEL)
        fast = RawModel(require_local(fast_spec, s.locations.models_search_path), threads=n)
        ttft: dict[str, list[float]] = {c: [] for c in CONFIGS}
        tokens: dict[str, list[int]] = {c: [] for c in CONFIGS if c not in SHIPPED}
        search_ms: list[float] = []
        loads: list[float] = []
        try:
            for r in range(runs):
                for i, q in enumerate(workload.questions):
                    loads.append(os.getloadavg()[0])
                    ctx = retrieve(s.searcher, q, s.answerer.k, DEFAULT_BUDGET)
                    search_ms.append(ctx.timings.get("total", ctx.retrieve_ms))
                    if not ctx.passages:
                        continue
                    whole = messages_for(q, ctx.passages)
                    trimmed = messages_for(q, ctx.budget_prompt)
                    plan = {
                        "naive": (stock, whole, False),
                        "budget": (stock, trimmed, False),
                        "q8": (fast, whole, False),
                        "prefix": (stock, whole, True),
                    }
                    order = list(CONFIGS)
                    shift = (r * len(workload.questions) + i) % len(order)
                    for name in order[shift:] + order[:shift]:
                        if name in SHIPPED:
                            ttft[name].append(_folio_ttft(s if name == "folio" else s_q8, q))
                            continue
                        model, msgs, reuse = plan[name]
                        if reuse:  # as after another question: only the system part is shared
                            "".join(model.stream(messages_for("Warm up?", []), 1))
                        ms = first_piece_ms(model.stream(msgs, 8, reuse=reuse))
                        ttft[name].append(ctx.retrieve_ms + ms)
                        tokens[name].append(model.prompt_tokens(msgs))
            same = stock if Path(engine.model_path).name == stock.path.name else fast
            generation = _generation(engine, same, s, workload, gen_tokens, gen_runs)
        finally:
            stock.close()
            fast.close()
    naive_p50 = statistics.median(ttft["naive"]) if ttft["naive"] else 0.0
    out: RagResult = {
        "workload": workload.name,
        "questions": len(workload.questions),
        "runs": runs,
        "index": {"files": report.added, "chunks": report.chunks, "seconds": round(index_s, 2)},
        "models": {
            "naive": stock.path.name,
            "q8": fast.path.name,
            "folio": Path(engine.model_path).name,
            "folio_q8": q8_name,
        },
        "search_ms": summarize(search_ms) if search_ms else None,
        "first_token_ms": {c: summarize(v) for c, v in ttft.items() if v},
        "prompt_tokens_mean": {c: round(statistics.fmean(v), 1) for c, v in tokens.items() if v},
        "ratio_to_naive_p50": {
            c: round(statistics.median(v) / naive_p50, 3)
            for c, v in ttft.items()
            if v and naive_p50
        },
        "generation": generation,
        "threads": threads or "default",
        "load_1min": {"median": round(statistics.median(loads), 2) if loads else None},
    }
    return out


def _folio_ttft(session: Session, question: str) -> float:
    """The shipped path's time to first token; the answer stops after it."""
    cancel = CancelToken()

    def stop(_piece: str) -> None:
        cancel.cancel()

    answer = session.answerer.ask(question, on_token=stop, cancel=cancel)
    return float(answer.timings_ms["first_token"])


def _generation(
    engine: ChatEngine, raw: RawModel, session: Session, workload: Workload, n: int, runs: int
) -> Generation:
    """Tokens/s after the first token: Folio's engine and raw llama-cpp-python, same
    model file and prompt, alternating."""
    ctx = retrieve(session.searcher, workload.questions[0], 3, DEFAULT_BUDGET)
    msgs = messages_for("Summarise these passages in detail.", ctx.passages)
    folio_rates, raw_rates = [], []
    for _ in range(runs):
        folio_rates.append(rate(engine.stream_chat(msgs, max_tokens=n))[0])
        raw_rates.append(rate(raw.stream(msgs, n))[0])
    f, r = statistics.median(folio_rates), statistics.median(raw_rates)
    return {
        "tokens": n,
        "folio_tokens_per_s": round(f, 1),
        "raw_llama_cpp_tokens_per_s": round(r, 1),
        "ratio": round(f / r, 3) if r else None,
    }
