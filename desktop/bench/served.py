"""`folio bench rag --engine URL --clients N`: answers through a serving engine beside the local
engine, with 1 and N clients asking at once.

Each client is a thread with its own engine (a model of its own locally, an HTTP connection
to the server otherwise), as several windows or CLI calls would be; all of them answer the
workload's questions, each starting at a different one. Reported per engine and client
count: answers and generated tokens per second over the whole run, and p50/p95 time to the
first token (retrieval included), with the machine's load before and after.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from desktop.bench.workload import Workload
from desktop.config import Config
from desktop.evaluate.naive import bench_config
from desktop.evaluate.stats import summarize

log = logging.getLogger(__name__)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_clients(config: Config, questions: list[str], clients: int) -> dict[str, Any]:
    """`clients` threads answer every question at once; their figures, pooled."""
    from desktop.session import Session

    session = Session(config)
    _ = session.embedder  # loaded once, before the clock starts
    ttft: list[float] = []
    tokens: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        try:
            answerer = session.answerer  # this thread's engine (and model, if local)
            ready.wait()
            order = questions[n % len(questions) :] + questions[: n % len(questions)]
            for q in order:
                answer = answerer.ask(q)
                with lock:
                    ttft.append(answer.timings_ms["first_token"])
                    tokens.append(answer.tokens)
        except BaseException as exc:  # noqa: BLE001 - reported in the results
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}")
            if ready.n_waiting:
                ready.abort()
        finally:
            session.release_thread()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    load_before = _load()
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        pass
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    session.close()
    out: dict[str, Any] = {
        "clients": clients,
        "answers": len(ttft),
        "wall_s": round(wall, 2),
        "answers_per_s": round(len(ttft) / wall, 3) if wall else 0.0,
        "tokens_per_s": round(sum(tokens) / wall, 1) if wall else 0.0,
        "load_before": load_before,
        "load_after": _load(),
    }
    if ttft:
        out["first_token_ms"] = summarize(ttft, 0)
    if errors:
        out["errors"] = errors[:3]
    return out


def bench_served(
    workload: Workload,
    library: Path,
    url: str,
    clients: tuple[int, ...] = (1, 4),
    max_tokens: int = 64,
    threads: int = 0,
    local: bool = True,
) -> dict[str, Any]:
    """Local and served answers over `workload`, for each client count in `clients`."""
    from desktop.session import Session

    base = bench_config(library, threads)
    base = base.with_settings(
        base.settings.with_changes(max_answer_tokens=max_tokens, engine_url="", engine_model="")
    )
    with Session(base) as s:
        s.indexer.index([workload.folder])
    served = base.with_settings(base.settings.with_changes(engine_url=url))
    results: dict[str, Any] = {"workload": workload.name, "max_tokens": max_tokens, "url": url}
    for name, config in (("local", base), ("server", served)):
        if name == "local" and not local:
            continue
        results[name] = []
        for n in clients:
            row = run_clients(config, workload.questions, n)
            results[name].append(row)
            log.info("served bench %s: %s", name, json.dumps(row))
    return results


def markdown(results: dict[str, Any]) -> str:
    """The served-engine table."""
    lines = [
        f"### Answers through {results['url']} beside this computer ({results['workload']}, "
        f"{results['max_tokens']} tokens max)",
        "",
        "| engine | clients | answers | answers/s | tokens/s | TTFT p50 ms | TTFT p95 ms | "
        "load before → after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("local", "server"):
        for row in results.get(name, []):
            t = row.get("first_token_ms", {})
            lines.append(
                f"| {name} | {row['clients']} | {row['answers']} | {row['answers_per_s']} | "
                f"{row['tokens_per_s']} | {t.get('p50', '-')} | {t.get('p95', '-')} | "
                f"{row['load_before'][0]} → {row['load_after'][0]} |"
                + (f" errors: {row['errors'][0]}" if row.get("errors") else "")
            )
    return "\n".join(lines)
