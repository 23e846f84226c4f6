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
from typing import TYPE_CHECKING

from desktop.bench.workload import Workload
from desktop.config import Config
from desktop.evaluate.naive import bench_config
from desktop.evaluate.stats import summarize

if TYPE_CHECKING:
    from desktop.bench.results import ServedResult, ServedRow
    from desktop.engine.api import ChatEngine

log = logging.getLogger(__name__)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def engine_name(engine: ChatEngine) -> str:
    """What a report calls this engine: "this computer", "llama-server" or another server."""
    from desktop.engine.remote import RemoteEngine

    if not isinstance(engine, RemoteEngine):
        return "this computer"
    kind = engine.server.kind
    return kind if kind == "llama-server" else "OpenAI-compatible server"


def run_clients(config: Config, questions: list[str], clients: int) -> ServedRow:
    """`clients` threads answer every question at once; their figures, pooled."""
    from desktop.session import Session

    session = Session(config)
    _ = session.embedder  # loaded once, before the clock starts
    ttft: list[float] = []
    tokens: list[int] = []
    errors: list[str] = []
    names: set[str] = set()
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        try:
            answerer = session.answerer  # this thread's engine (and model, if local)
            with lock:
                names.add(engine_name(session.engine))
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
    out: ServedRow = {
        "clients": clients,
        "answers": len(ttft),
        "wall_s": round(wall, 2),
        "answers_per_s": round(len(ttft) / wall, 3) if wall else 0.0,
        "tokens_per_s": round(sum(tokens) / wall, 1) if wall else 0.0,
        "load_before": load_before,
        "load_after": _load(),
    }
    if names:
        out["engine"] = " + ".join(sorted(names))
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
) -> ServedResult:
    """Local and served answers over `workload`, for each client count in `clients`."""
    from desktop.session import Session

    base = bench_config(library, threads)
    base = base.with_settings(
        base.settings.with_changes(max_answer_tokens=max_tokens, engine_url="", engine_model="")
    )
    with Session(base) as s:
        s.indexer.index([workload.folder])
    served = base.with_settings(base.settings.with_changes(engine_url=url))
    results: ServedResult = {"workload": workload.name, "max_tokens": max_tokens, "url": url}
    if local:
        results["local"] = _each(base, workload, clients)
    results["server"] = _each(served, workload, clients)
    return results


def _each(config: Config, workload: Workload, clients: tuple[int, ...]) -> list[ServedRow]:
    rows = []
    for n in clients:
        rows.append(run_clients(config, workload.questions, n))
        log.info("served bench: %s", json.dumps(rows[-1]))
    return rows
