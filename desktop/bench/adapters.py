"""Benchmark: hot-swapping LoRA adapters on the resident model versus reloading it.

Both paths answer the same grounded question right after each switch, alternating between
two adapters, in the same process and run:

- hot swap: `Engine.set_adapters` (llama_set_adapters_lora on the loaded model), with the
  per-adapter system-prompt state restored from the prefix cache;
- reload: the high-level `Llama(model_path, lora_path=...)`, which reloads the model (and
  turns mmap off) for every switch. It is here only as the comparison.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from desktop.adapters import check_compatibility, discover
from desktop.adapters.synth import write_lora
from desktop.engine.llm import DEFAULT_PREFIX_CACHE_BYTES, Engine, default_threads
from desktop.evaluate.naive import first_piece_ms
from desktop.rag.prompt import SYSTEM_PROMPT

if TYPE_CHECKING:
    import llama_cpp
    from llama_cpp import llama_types

N_CTX = 2048
_PASSAGE = (
    "The Folio desktop assistant keeps every document on the user's computer. Indexing "
    "splits each file into passages of about two hundred tokens, embeds them with a small "
    "sentence model, and stores text and vectors in one SQLite file. Questions are answered "
    "from the best passages only, and every sentence cites the passage it used."
)
QUESTION = "Where does Folio keep the documents, and how are answers grounded?"


class AdaptersResult(TypedDict):
    """`folio bench adapters`: hot swap beside reload, medians in ms, and their ratios."""

    model: str
    adapters: list[str]
    runs: int
    threads: int
    prompt_tokens: int
    cached_prefix_tokens: int
    machine: str
    hot_swap: dict[str, float]
    reload: dict[str, float]
    ratio: dict[str, float]


def _messages() -> list[dict[str, str]]:
    user = f"Passages:\n\n[1] (folio-guide.pdf, page 2)\n{_PASSAGE}\n\nQuestion: {QUESTION}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _llama_messages() -> list[llama_types.ChatCompletionRequestMessage]:
    """`_messages()` as llama-cpp-python's typed request messages, for the reload path."""
    system, user = _messages()
    return [
        {"role": "system", "content": system["content"]},
        {"role": "user", "content": user["content"]},
    ]


def _p50(values: Sequence[float]) -> float:
    return round(statistics.median(values), 3)


def _adapter_paths(model_path: Path, adapters_dir: Path | None, tmp: Path) -> list[Path]:
    if adapters_dir is not None:
        fitting = [
            i.path
            for i in discover([(adapters_dir, "user")])
            if check_compatibility(i, model_path).ok
        ]
        if len(fitting) >= 2:
            return fitting[:2]
    return [write_lora(model_path, tmp / f"bench-style-{seed}.gguf", seed=seed) for seed in (1, 2)]


def _hot_swap(
    model_path: Path,
    adapters: list[Path],
    runs: int,
    threads: int,
    max_tokens: int,
    cache_bytes: int | None,
) -> tuple[list[float], list[float], tuple[int, int]]:
    msgs = _messages()
    switch_ms: list[float] = []
    ttft_ms: list[float] = []
    cache = DEFAULT_PREFIX_CACHE_BYTES if cache_bytes is None else cache_bytes
    with Engine(model_path, n_ctx=N_CTX, n_threads=threads, prefix_cache_bytes=cache) as engine:
        prompt_tokens = engine.prompt_tokens(msgs)
        for path in adapters:  # warm up: load both, and fill each one's prefix state
            engine.set_adapters([(path, 1.0)])
            if cache > 0:
                "".join(engine.stream_chat(msgs, max_tokens=max_tokens))
        for i in range(runs):
            target = adapters[i % len(adapters)]
            started = time.perf_counter()
            engine.set_adapters([(target, 1.0)])
            switch_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            ttft_ms.append(first_piece_ms(engine.stream_chat(msgs, max_tokens=max_tokens), started))
    return switch_ms, ttft_ms, prompt_tokens


def _reload(
    model_path: Path, adapters: list[Path], runs: int, threads: int, max_tokens: int
) -> tuple[list[float], list[float]]:
    from llama_cpp import Llama

    msgs = _llama_messages()
    switch_ms: list[float] = []
    ttft_ms: list[float] = []

    def load(path: Path) -> llama_cpp.Llama:
        return Llama(
            model_path=str(model_path),
            lora_path=str(path),
            n_ctx=N_CTX,
            n_threads=threads,
            seed=0,
            flash_attn=True,  # as the engine, so the comparison is fair
            verbose=False,
        )

    def ask(llm: llama_cpp.Llama) -> Iterator[llama_types.CreateChatCompletionStreamResponse]:
        events = llm.create_chat_completion(
            messages=msgs, max_tokens=max_tokens, temperature=0.0, repeat_penalty=1.1, stream=True
        )
        if isinstance(events, dict):  # only without stream=True
            raise TypeError("llama-cpp-python returned a whole completion, not a stream")
        for event in events:
            if event["choices"][0]["delta"].get("content"):
                yield event

    llm = load(adapters[-1])
    try:
        for i in range(runs):
            target = adapters[i % len(adapters)]
            started = time.perf_counter()
            llm.close()  # a switch on this path is: drop the model, load it with the adapter
            llm = load(target)
            switch_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            ttft_ms.append(first_piece_ms(ask(llm), started))
    finally:
        llm.close()
    return switch_ms, ttft_ms


def bench_adapters(
    model_path: Path,
    adapters_dir: Path | None = None,
    runs: int = 20,
    *,
    n_threads: int | None = None,
    max_tokens: int = 8,
) -> AdaptersResult:
    """Switch latency and time to first token after a switch, hot swap versus reload.

    Args:
        model_path: the chat model GGUF.
        adapters_dir: take two compatible adapters from here (default: synthesise two).
        runs: switches per path (alternating between the two adapters); figures are medians.
        n_threads: CPU threads for both paths (default: the engine's default).
        max_tokens: tokens generated per answer (only the first is timed).
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    threads = n_threads or default_threads()
    with tempfile.TemporaryDirectory(prefix="folio-bench-adapters-") as tmp:
        adapters = _adapter_paths(Path(model_path), adapters_dir, Path(tmp))
        hot_switch, hot_ttft, prompt_tokens = _hot_swap(
            Path(model_path), adapters, runs, threads, max_tokens, None
        )
        _, cold_ttft, _ = _hot_swap(Path(model_path), adapters, runs, threads, max_tokens, 0)
        reload_switch, reload_ttft = _reload(Path(model_path), adapters, runs, threads, max_tokens)
    hot = {
        "switch_ms_p50": _p50(hot_switch),
        "ttft_ms_p50": _p50(hot_ttft),
        "ttft_ms_p50_without_prefix_cache": _p50(cold_ttft),
    }
    reload = {"switch_ms_p50": _p50(reload_switch), "ttft_ms_p50": _p50(reload_ttft)}
    hot_total = statistics.median(s + t for s, t in zip(hot_switch, hot_ttft, strict=True))
    reload_total = statistics.median(s + t for s, t in zip(reload_switch, reload_ttft, strict=True))
    return {
        "model": Path(model_path).name,
        "adapters": [p.name for p in adapters],
        "runs": runs,
        "threads": threads,
        "prompt_tokens": prompt_tokens[0],
        "cached_prefix_tokens": prompt_tokens[1],
        "machine": platform.machine(),
        "hot_swap": hot,
        "reload": reload,
        "ratio": {
            "switch": round(reload["switch_ms_p50"] / max(hot["switch_ms_p50"], 1e-6), 1),
            "ttft": round(reload["ttft_ms_p50"] / max(hot["ttft_ms_p50"], 1e-6), 2),
            "switch_plus_ttft": round(reload_total / max(hot_total, 1e-6), 2),
        },
    }
