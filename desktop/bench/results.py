"""The shapes of `folio bench` results: what each part returns, and results.json whole.

Only types: the benchmark modules build these as plain dicts, and `desktop.bench.report`
reads them back to judge the targets.
"""

from __future__ import annotations

from typing import TypedDict

from desktop.json_types import JSONObject

# `desktop.evaluate.stats.summarize` of timing samples: "p50", "p95" and "n".
Summary = dict[str, float]
# One `desktop.bench.child` step's output: a flat JSON object of numbers (seconds, files,
# chunks, rates, peak_rss_mb, ...), read back by `desktop.bench.system.run_child`.
Figures = dict[str, float]


class RagIndex(TypedDict):
    """The workload's indexing before `folio bench rag` asks its questions."""

    files: int
    chunks: int
    seconds: float


class Generation(TypedDict):
    """Tokens/s after the first token: Folio's engine beside raw llama-cpp-python."""

    tokens: int
    folio_tokens_per_s: float
    raw_llama_cpp_tokens_per_s: float
    ratio: float | None


class RagResult(TypedDict):
    """`folio bench rag` on one workload (`desktop.bench.rag.bench_rag`)."""

    workload: str
    questions: int
    runs: int
    index: RagIndex
    models: dict[str, str]  # config -> model file name
    search_ms: Summary | None
    first_token_ms: dict[str, Summary]  # config -> summary
    prompt_tokens_mean: dict[str, float]
    ratio_to_naive_p50: dict[str, float]
    generation: Generation
    threads: int | str  # "default" when Folio's own default was used
    load_1min: dict[str, float | None]


class HnswResult(TypedDict):
    """The same vectors in a usearch HNSW index (`desktop.bench.retrieval`)."""

    build_s: float
    search_ms: Summary
    recall_at_10: float
    memory_mb: float


class _SizeFigures(TypedDict):
    chunks: int
    first_search_ms: float
    search_ms: Summary
    stages_ms_p50: dict[str, float]  # stage -> median ms
    naive_vector_ms: Summary
    naive_search_ms_p50: float
    recall_at_10: float
    recall_at_10_min: float
    load_1min_median: float
    page_cache_read_s: float  # reading the library into the OS page cache first


class SizeResult(_SizeFigures, total=False):
    """Every figure for one padded library (`desktop.bench.retrieval.bench_size`)."""

    hnsw: HnswResult | None  # only where the HNSW comparison ran; None without usearch
    numpy: dict[str, object]  # schema 4's in-memory path, same queries
    vec0_knn: dict[str, object]  # the probed cells scored by vec0's KNN, not numpy
    folder: dict[str, object]  # the search scoped to a folder of 1 % of the chunks
    fresh_process: dict[str, dict[str, float]]  # first search of new processes, by path


class RetrievalResult(TypedDict):
    """`folio bench retrieval`: the figures of each padded library, keyed by its size."""

    queries: int
    sizes: dict[str, SizeResult]


class IndexSize(TypedDict):
    """`folio bench index` at one folder size: Folio's figures (chunks/s to every vector;
    seconds from the drop to the first keyword hit, to all text, to every vector), the
    naive loops' beside them, and the 1-minute load before, between and after."""

    files: int
    folio: Figures
    naive: Figures
    naive_quiet: Figures
    ratio_chunks_per_s: float | None
    load_1min: list[float]


class IndexResult(TypedDict):
    """`folio bench index` (`desktop.bench.system.bench_index`), keyed by files dropped."""

    squad: str
    sizes: dict[str, IndexSize]


class StartupFigures(TypedDict):
    """Medians over the cold starts of one kind."""

    window_shown_s: float
    model_ready_s: float
    runs: int


class StartupResult(TypedDict):
    """`folio bench startup` (`desktop.bench.system.bench_startup`)."""

    folio: StartupFigures
    naive: StartupFigures
    load_1min: float


class MemoryResult(TypedDict):
    """`folio bench memory` (`desktop.bench.system.bench_memory`)."""

    folio: Figures
    naive: Figures
    load_1min: float


class _ServedFigures(TypedDict):
    clients: int
    answers: int
    wall_s: float
    answers_per_s: float
    tokens_per_s: float
    load_before: list[float]
    load_after: list[float]


class ServedRow(_ServedFigures, total=False):
    """One engine with `clients` clients asking at once (`desktop.bench.served.run_clients`)."""

    engine: str  # "this computer", "llama-server" or "OpenAI-compatible server"
    first_token_ms: Summary  # absent where no answer came back
    errors: list[str]  # the first three failures, where any


class _ServedParts(TypedDict):
    workload: str
    max_tokens: int
    url: str


class ServedResult(_ServedParts, total=False):
    """`folio bench rag --engine URL`: this computer beside the server, 1 and N clients."""

    local: list[ServedRow]
    server: list[ServedRow]


class BenchResults(TypedDict, total=False):
    """results.json: whichever parts of a `folio bench` run were measured."""

    load_at_start: list[float]
    rag: dict[str, RagResult]  # workload name -> result
    rag_served: ServedResult  # `--engine URL`: desktop/bench/served.py
    retrieval: RetrievalResult
    index: IndexResult
    startup: StartupResult
    memory: MemoryResult
    delete: dict[str, float]  # `desktop.bench.deletes.bench_delete`
    eval: JSONObject  # `folio eval` results placed beside the run, free-form JSON
