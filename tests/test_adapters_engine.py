"""LoRA hot swap on the real llama.cpp model, with adapters written by `synth.write_lora`.

Every answer is compared token for token with a freshly loaded engine that only ever saw
one adapter set: state computed under another set must never leak into an answer.
"""

from __future__ import annotations

import gc
import os
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from desktop.adapters.synth import write_lora
from desktop.engine import llama_internals
from desktop.engine.llm import Engine
from desktop.errors import AdapterError
from desktop.paths import Locations
from tests.conftest import require_default_model

MODEL = require_default_model("chat")
MESSAGES = [
    {
        "role": "system",
        "content": "You are Folio. Answer in one short sentence and cite the passage number.",
    },
    {
        "role": "user",
        "content": "Passages:\n\n[1] The sky is blue because of Rayleigh "
        "scattering.\n\nQuestion: Why is the sky blue?",
    },
]
MAX_TOKENS = 8
N_CTX = 512

pytestmark = pytest.mark.slow

Spec = tuple[tuple[str, float], ...]
Answer = tuple[str, list[int]]


@pytest.fixture(scope="module")
def styles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from gguf import GGUFWriter

    d = tmp_path_factory.mktemp("styles")
    out = {
        "A": write_lora(MODEL, d / "A.gguf", seed=1),
        "B": write_lora(
            MODEL,
            d / "B.gguf",
            seed=2,
            rank=4,
            dtype="f16",
            targets=("attn_q", "attn_v", "ffn_down"),
        ),
        "wide": write_lora(MODEL, d / "wide.gguf", seed=3, mismatch=True),
        "qwen": write_lora(MODEL, d / "qwen.gguf", seed=4, architecture="qwen2"),
    }
    # adapter.lora.alpha as uint32: llama.cpp's gguf_get_val_f32 would abort the process.
    w = GGUFWriter(d / "alpha.gguf", "llama")
    w.add_type("adapter")
    w.add_string("adapter.type", "lora")
    w.add_uint32("adapter.lora.alpha", 16)
    w.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((8, 576), np.float32))
    w.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((576, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    out["alpha"] = d / "alpha.gguf"
    return out


def answer(engine: Engine) -> Answer:
    """Greedy reply text and every token the context evaluated (prompt and reply)."""
    text = "".join(engine.stream_chat(MESSAGES, max_tokens=MAX_TOKENS))
    return text, llama_internals.evaluated_tokens(engine.llama)


def adapters(styles: dict[str, Path], spec: Spec) -> list[tuple[str | Path, float]]:
    return [(styles[name], scale) for name, scale in spec]


@pytest.fixture(scope="module")
def fresh(styles: dict[str, Path]) -> Callable[[Spec], Answer]:
    """The answer of a newly loaded engine given `spec` before its first question."""
    memo: dict[Spec, Answer] = {}

    def get(spec: Spec) -> Answer:
        if spec not in memo:
            with Engine(MODEL, n_ctx=N_CTX) as engine:
                if spec:
                    engine.set_adapters(adapters(styles, spec))
                memo[spec] = answer(engine)
        return memo[spec]

    return get


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(MODEL, n_ctx=N_CTX) as e:
        yield e


NONE: Spec = ()
A: Spec = (("A", 1.0),)
B: Spec = (("B", 1.0),)
AB: Spec = (("A", 1.0), ("B", 0.5))


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_adapters_change_greedy_output(fresh: Callable[[Spec], Answer]) -> None:
    texts = {name: fresh(spec)[0] for name, spec in {"none": NONE, "A": A, "B": B}.items()}
    assert len(set(texts.values())) == 3, texts


def test_none_after_adapters_is_the_fresh_base_model(
    engine: Engine, styles: dict[str, Path], fresh: Callable[[Spec], Answer]
) -> None:
    engine.set_adapters(adapters(styles, A))
    assert answer(engine) == fresh(A)
    engine.set_adapters([])
    assert engine.active_adapters == ()
    assert answer(engine) == fresh(NONE)


def test_scale_zero_is_none(
    engine: Engine, styles: dict[str, Path], fresh: Callable[[Spec], Answer]
) -> None:
    engine.set_adapters(adapters(styles, A))
    answer(engine)
    engine.set_adapters(adapters(styles, (("A", 0.0), ("B", 0.0))))
    assert engine.active_adapters == ()
    assert answer(engine) == fresh(NONE)
    with Engine(MODEL, n_ctx=N_CTX) as other:
        other.set_adapters(adapters(styles, (("A", 0.0),)))
        assert answer(other) == fresh(NONE)


def test_answers_after_switches_never_show_the_previous_adapter(
    engine: Engine, styles: dict[str, Path], fresh: Callable[[Spec], Answer]
) -> None:
    # Same prompt every time: without invalidation llama-cpp-python would reuse the whole
    # prompt's KV computed under the previous set; without per-set keys the restored
    # system prefix would come from another set. Both make these comparisons fail.
    for spec in (A, B, A, NONE, B, AB, A, NONE, AB, B):
        engine.set_adapters(adapters(styles, spec))
        assert answer(engine) == fresh(spec), f"after switching to {spec}"
    stats = engine.adapter_stats
    assert stats.switches == 10
    assert stats.prefix_restores >= 6  # switching back reused each set's saved prefix


def test_switching_back_does_not_prefill_the_system_prompt_again(
    engine: Engine, styles: dict[str, Path]
) -> None:
    full, prefix = engine.prompt_tokens(MESSAGES)
    assert 8 <= prefix < full

    def prefilled(spec: Spec) -> int:
        engine.set_adapters(adapters(styles, spec))
        before = llama_cpp.llama_perf_context(engine.llama.ctx).n_p_eval
        answer(engine)
        return int(llama_cpp.llama_perf_context(engine.llama.ctx).n_p_eval - before)

    # Batches of one token count as generation, not prefill: the prompt's last token is
    # always evaluated alone, by the completion (see Engine._prefill).
    assert prefilled(A) >= full - 1  # first time under A: the whole prompt
    assert prefilled(B) >= full - 1
    assert prefilled(A) == full - prefix - 1  # back to A: only the part after the prefix
    assert prefilled(B) == full - prefix - 1


def test_combined_adapters(
    engine: Engine, styles: dict[str, Path], fresh: Callable[[Spec], Answer]
) -> None:
    engine.set_adapters(adapters(styles, AB))
    assert [n for n, _ in engine.active_adapters] == ["A", "B"]
    both = answer(engine)
    assert both == fresh(AB)
    assert both[0] not in (fresh(A)[0], fresh(B)[0])


def test_bad_adapters_raise_and_the_engine_keeps_answering(
    engine: Engine, styles: dict[str, Path], fresh: Callable[[Spec], Answer]
) -> None:
    engine.set_adapters(adapters(styles, A))
    assert answer(engine) == fresh(A)
    for bad, words in (
        ("wide", ["does not fit"]),
        ("qwen", ["architecture 'qwen2'"]),
        ("alpha", ["FLOAT32"]),
    ):
        with pytest.raises(AdapterError) as err:
            engine.set_adapters([(styles[bad], 1.0)])
        for word in [f"'{bad}'", MODEL.name, *words]:
            assert word in str(err.value)
    with pytest.raises(AdapterError, match="unknown adapter 'nope'"):
        engine.set_adapters([("nope", 1.0)])
    with pytest.raises(AdapterError, match="between 0 and 2"):
        engine.set_adapters([(styles["B"], 2.5)])
    with pytest.raises(AdapterError, match="given twice"):
        engine.set_adapters([(styles["B"], 1.0), (styles["B"], 0.5)])
    assert engine.active_adapters == (("A", 1.0),)
    assert set(engine.loaded_adapters) == {"A", "B"}  # nothing refused got loaded
    assert answer(engine) == fresh(A)


def test_adapters_by_name_from_the_user_folder(
    styles: dict[str, Path], fresh: Callable[[Spec], Answer], locations: Locations
) -> None:
    user = locations.user_adapters_dir
    user.mkdir(parents=True)
    (user / "calm.gguf").write_bytes(styles["A"].read_bytes())
    (user / "calm.toml").write_text('name = "calm"\n', encoding="utf-8")
    with Engine(MODEL, n_ctx=N_CTX, adapter_dirs=locations.adapter_dirs) as engine:
        engine.set_adapters([("calm", 1.0)])
        assert engine.active_adapters == (("calm", 1.0),)
        assert answer(engine) == fresh(A)


def test_a_name_means_the_installed_adapter_even_after_a_namesake_file(
    styles: dict[str, Path], fresh: Callable[[Spec], Answer], locations: Locations, tmp_path: Path
) -> None:
    """A file given by path whose sidecar carries an installed adapter's name (a retrained
    `grounded` under evaluation) never stands in for the installed one when the name is
    asked for (it once did: the eval measured the same adapter twice)."""
    user = locations.user_adapters_dir
    user.mkdir(parents=True)
    (user / "calm.gguf").write_bytes(styles["A"].read_bytes())
    (user / "calm.toml").write_text('name = "calm"\n', encoding="utf-8")
    other = tmp_path / "retrained" / "calm.gguf"
    other.parent.mkdir()
    other.write_bytes(styles["B"].read_bytes())
    other.with_suffix(".toml").write_text('name = "calm"\n', encoding="utf-8")
    with Engine(MODEL, n_ctx=N_CTX, adapter_dirs=locations.adapter_dirs) as engine:
        engine.set_adapters([(other, 1.0)])
        assert answer(engine) == fresh(B)
        engine.set_adapters([("calm", 1.0)])
        assert answer(engine) == fresh(A)


def test_thousand_switches_keep_memory_bounded(engine: Engine, styles: dict[str, Path]) -> None:
    cycle = [adapters(styles, s) for s in (A, B, AB, NONE)]
    for spec in cycle:  # save each set's prefix state once
        engine.set_adapters(spec)
        answer(engine)

    def switch(n: int) -> None:
        for i in range(n):
            engine.set_adapters(cycle[i % len(cycle)])
            assert engine.warm_prefix(MESSAGES)  # restores the saved state every time

    switch(40)
    gc.collect()
    before = rss_bytes()
    switch(1000)
    gc.collect()
    grown = rss_bytes() - before
    assert grown < 4 * 2**20, f"RSS grew {grown / 2**20:.1f} MiB over 1,000 switches"
    stats = engine.adapter_stats
    assert stats.prefix_restores >= 1000
    assert stats.cache_entries == 4
    assert stats.cache_bytes <= 64 * 2**20


def test_unloading_frees_the_adapter(
    engine: Engine, styles: dict[str, Path], fresh: Callable[[Spec], Answer]
) -> None:
    engine.set_adapters(adapters(styles, A))
    answer(engine)
    engine.set_adapters(adapters(styles, AB))
    answer(engine)
    pool = engine._adapters.pool
    loaded_a = next(a for a in pool.loaded if a.info.name == "A")
    entries = engine.adapter_stats.cache_entries
    engine.unload_adapter(styles["A"])
    assert loaded_a.handle is None
    assert engine.loaded_adapters == ("B",)
    assert engine.active_adapters == (("B", 0.5),)
    assert engine.adapter_stats.cache_entries < entries  # states computed with A are gone
    with pytest.raises(AdapterError, match="not loaded"):
        engine.unload_adapter("A")

    # A leak would keep ~3.7 MB per load; 40 loads would show as ~150 MB.
    for _ in range(5):
        engine.set_adapters(adapters(styles, A))
        engine.unload_adapter("A")
    gc.collect()
    before = rss_bytes()
    for _ in range(40):
        engine.set_adapters(adapters(styles, A))
        engine.unload_adapter("A")
    gc.collect()
    assert rss_bytes() - before < 16 * 2**20
    engine.set_adapters([])
    assert answer(engine) == fresh(NONE)


def test_close_frees_adapters_before_the_model(styles: dict[str, Path]) -> None:
    engine = Engine(MODEL, n_ctx=N_CTX)
    engine.set_adapters(adapters(styles, AB))
    pool = engine._adapters.pool
    handles = list(pool.loaded)
    engine.close()
    assert pool.closed and all(a.handle is None for a in handles)
    engine.close()  # idempotent
    with pytest.raises(AdapterError, match="closed"):
        engine.set_adapters(adapters(styles, A))

    # Dropped without close(): the Llama object's own exit stack frees adapters first.
    dropped = Engine(MODEL, n_ctx=N_CTX)
    dropped.set_adapters(adapters(styles, A))
    dropped_handles = list(dropped._adapters.pool.loaded)
    llm = weakref.ref(dropped.llama)
    del dropped
    gc.collect()
    assert llm() is None
    assert all(a.handle is None for a in dropped_handles)
