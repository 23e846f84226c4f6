"""`gpu_layers`: auto, 0 or N, and the fall back to the CPU when a GPU load fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop.config import Config
from desktop.engine import gpu
from desktop.engine.llm import Engine
from desktop.errors import ModelError
from desktop.paths import Locations
from desktop.settings import Settings


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


def test_auto_is_resolved_once_by_the_configuration(
    monkeypatch: pytest.MonkeyPatch, locations: Locations
) -> None:
    monkeypatch.setattr(gpu, "gpu_offload_supported", lambda: True)
    assert Config.resolve(Settings(gpu_layers="auto"), locations).gpu_layers == -1
    assert Config.resolve(Settings(gpu_layers="12"), locations).gpu_layers == 12
    monkeypatch.setattr(gpu, "gpu_offload_supported", lambda: False)
    assert Config.resolve(Settings(gpu_layers="auto"), locations).gpu_layers == 0
    with pytest.raises(ValueError, match="GPU layers"):
        Settings(gpu_layers="lots")


def test_a_failed_gpu_load_falls_back_to_the_cpu(
    monkeypatch: pytest.MonkeyPatch, chat_model_path: Path
) -> None:
    MODEL = chat_model_path
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


def test_a_failed_cpu_load_is_a_model_error(
    monkeypatch: pytest.MonkeyPatch, chat_model_path: Path
) -> None:
    MODEL = chat_model_path

    def broken(self: Engine, n_ctx: int, threads: int, layers: int, seed: int) -> Any:
        raise ValueError("Failed to load model from file")

    monkeypatch.setattr(Engine, "_load", broken)
    with pytest.raises(ModelError, match=MODEL.name):
        Engine(MODEL, n_ctx=256, gpu_layers=0)
    with pytest.raises(ModelError, match="gpu_layers"):
        Engine(MODEL, n_ctx=256, gpu_layers=-2)


def test_auto_on_this_build_loads(locations: Locations, chat_model_path: Path) -> None:
    layers = Config.resolve(Settings(gpu_layers="auto"), locations).gpu_layers
    with Engine(chat_model_path, n_ctx=256, gpu_layers=layers) as engine:
        expected = -1 if gpu.gpu_offload_supported() else 0
        assert engine.gpu_layers == expected and engine.gpu_fallback is None
