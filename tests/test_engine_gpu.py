"""`gpu_layers`: auto, 0 or N, and the fall back to the CPU when a GPU load fails."""

from __future__ import annotations

from typing import Any

import pytest

from desktop import paths
from desktop.engine import gpu
from desktop.engine.llm import Engine
from desktop.errors import ModelError

MODEL = paths.bundled_models_dir() / "SmolLM2-135M-Instruct.Q4_1.gguf"
needs_model = pytest.mark.skipif(not MODEL.is_file(), reason="default chat model not installed")


def test_gpu_layers_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu, "gpu_offload_supported", lambda: True)
    assert gpu.resolve_gpu_layers("auto") == -1
    monkeypatch.setattr(gpu, "gpu_offload_supported", lambda: False)
    assert gpu.resolve_gpu_layers("auto") == 0
    assert gpu.resolve_gpu_layers(" AUTO ") == 0
    assert gpu.resolve_gpu_layers("0") == 0
    assert gpu.resolve_gpu_layers(12) == 12
    assert gpu.resolve_gpu_layers("-1") == -1
    for bad in ("most", "-2", -5, "1.5"):
        with pytest.raises(ValueError):
            gpu.resolve_gpu_layers(bad)


@needs_model
def test_a_failed_gpu_load_falls_back_to_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    real_load = Engine._load
    asked: list[int] = []

    def flaky_load(self: Engine, n_ctx: int, threads: int, layers: int, seed: int) -> Any:
        asked.append(layers)
        if layers != 0:
            raise ValueError("Failed to load model from file (out of device memory)")
        return real_load(self, n_ctx, threads, layers, seed)

    monkeypatch.setattr(Engine, "_load", flaky_load)
    with Engine(MODEL, n_ctx=256, gpu_layers=20) as engine:
        assert asked == [20, 0]
        assert engine.gpu_layers == 0
        assert engine.gpu_fallback is not None and "device memory" in engine.gpu_fallback
        assert engine.count_tokens("hello world") > 0


@needs_model
def test_a_failed_cpu_load_is_a_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Engine, n_ctx: int, threads: int, layers: int, seed: int) -> Any:
        raise ValueError("Failed to load model from file")

    monkeypatch.setattr(Engine, "_load", broken)
    with pytest.raises(ModelError, match=MODEL.name):
        Engine(MODEL, n_ctx=256, gpu_layers="auto")
    with pytest.raises(ModelError, match="gpu_layers"):
        Engine(MODEL, n_ctx=256, gpu_layers="lots")


@needs_model
def test_auto_on_this_build_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    with Engine(MODEL, n_ctx=256, gpu_layers="auto") as engine:
        expected = -1 if gpu.gpu_offload_supported() else 0
        assert engine.gpu_layers == expected and engine.gpu_fallback is None
