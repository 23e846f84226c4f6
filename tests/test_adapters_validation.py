"""Adapter descriptions, discovery and validation, on GGUFs written here with `gguf`.

Nothing in this file loads llama.cpp: validation must judge files before llama.cpp sees
them (some of these files would abort the process inside llama.cpp).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest

from desktop import paths
from desktop.adapters import (
    AdapterInfo,
    check_compatibility,
    check_scale,
    discover,
    find_adapter,
    gguf_header,
    inspect,
    require_compatible,
)
from desktop.adapters.synth import write_lora
from desktop.errors import AdapterError
from desktop.paths import Locations
from tests.conftest import require_default_model

MODEL = require_default_model("chat")
N_EMBD, N_KV, N_VOCAB = 576, 192, 49152


@pytest.fixture(scope="module")
def lora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lora(
        MODEL,
        tmp_path_factory.mktemp("lora") / "calm.gguf",
        seed=1,
        description="Calm, short sentences",
    )


def write_gguf(
    path: Path,
    tensors: Mapping[str, np.ndarray],
    *,
    arch: str = "llama",
    gtype: object = "adapter",
    atype: object = "lora",
    alpha: object = 16.0,
    extra: Mapping[str, object] | None = None,
) -> Path:
    """A hand-made adapter GGUF; metadata values of the wrong type are written as uint32."""
    from gguf import GGUFWriter

    w = GGUFWriter(path, arch)

    def put(key: str, value: object) -> None:
        if isinstance(value, str):
            w.add_string(key, value)
        elif isinstance(value, float):
            w.add_float32(key, value)
        elif isinstance(value, list):
            w.add_array(key, value)
        else:
            w.add_uint32(key, int(value))  # type: ignore[call-overload]

    for key, value in (
        ("general.type", gtype),
        ("adapter.type", atype),
        ("adapter.lora.alpha", alpha),
        *(extra or {}).items(),
    ):
        if value is not None:
            put(key, value)
    for name, array in tensors.items():
        w.add_tensor(name, array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def pair(base: str, n_in: int = N_EMBD, n_out: int = N_EMBD, r: int = 4) -> dict[str, np.ndarray]:
    # numpy shapes are ggml shapes reversed
    return {
        f"{base}.lora_a": np.zeros((r, n_in), np.float32),
        f"{base}.lora_b": np.zeros((n_out, r), np.float32),
    }


def verdict_reason(path: Path) -> str:
    v = check_compatibility(path, MODEL)
    assert not v.ok, f"{path.name} was accepted"
    return v.reason


def test_synthesised_adapter_is_described_and_fits(lora: Path) -> None:
    info = inspect(lora)
    assert info.name == "calm"
    assert info.description == "Calm, short sentences"
    assert info.architecture == "llama"
    assert (info.rank, info.alpha) == (8, 16.0)
    assert len(info.targets) == 30 * 4
    assert "blk.0.attn_q.weight" in info.targets
    assert info.size_bytes == lora.stat().st_size > 0
    assert info.base_model  # the model's general.name
    assert info.dtypes == ("F32",)
    verdict = check_compatibility(info, MODEL)
    assert verdict.ok, verdict.reason
    assert MODEL.name in verdict.reason
    require_compatible(info, MODEL)  # no exception


def test_f16_adapter_fits(tmp_path: Path) -> None:
    path = write_lora(
        MODEL, tmp_path / "half.gguf", dtype="f16", rank=4, targets=("attn_q", "ffn_down")
    )
    info = inspect(path)
    assert info.dtypes == ("F16",) and info.rank == 4
    assert check_compatibility(info, MODEL).ok


def test_shape_mismatch_is_refused_naming_adapter_and_model(tmp_path: Path) -> None:
    info = inspect(write_lora(MODEL, tmp_path / "wide.gguf", mismatch=True))
    verdict = check_compatibility(info, MODEL)
    assert not verdict.ok and "does not fit" in verdict.reason
    with pytest.raises(AdapterError) as err:
        require_compatible(info, MODEL)
    assert "'wide'" in str(err.value) and MODEL.name in str(err.value)


def test_architecture_mismatch_is_refused(tmp_path: Path) -> None:
    path = write_lora(MODEL, tmp_path / "other.gguf", architecture="qwen2")
    assert "architecture 'qwen2'" in verdict_reason(path)
    assert "'llama'" in verdict_reason(path)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"gtype": "model"}, "not an adapter"),
        ({"gtype": None}, "not an adapter"),
        ({"atype": "control_vector"}, "not a LoRA adapter"),
        # Each of these would trip a GGML_ASSERT (process abort) in llama.cpp's typed getters.
        ({"alpha": 16}, "adapter.lora.alpha has type UINT32"),
        ({"gtype": 7}, "general.type has type UINT32"),
        ({"atype": 1}, "adapter.type has type UINT32"),
        ({"extra": {"adapter.alora.invocation_tokens": [1, 2]}}, "aLoRA"),
    ],
)
def test_bad_metadata_is_refused(tmp_path: Path, kwargs: dict[str, object], expected: str) -> None:
    path = write_gguf(tmp_path / "x.gguf", pair("blk.0.attn_q.weight"), **kwargs)  # type: ignore[arg-type]
    assert expected in verdict_reason(path)


@pytest.mark.parametrize(
    ("tensors", "expected"),
    [
        ({}, "no LoRA tensors"),
        ({"blk.0.attn_q.weight.lora_a": np.zeros((4, N_EMBD), np.float32)}, "has no lora_b"),
        ({"blk.0.attn_q.weight.lora_b": np.zeros((N_EMBD, 4), np.float32)}, "has no lora_a"),
        (pair("blk.99.attn_q.weight"), "does not exist in the model"),
        (pair("blk.0.attn_k.weight"), "does not fit"),  # attn_k is 576 -> 192
        (
            pair("blk.0.attn_q.weight", r=4)
            | {"blk.0.attn_q.weight.lora_b": np.zeros((N_EMBD, 5), np.float32)},
            "does not fit",
        ),
        (
            {
                "blk.0.attn_q.weight.lora_a": np.zeros((2, 4, N_EMBD), np.float32),
                "blk.0.attn_q.weight.lora_b": np.zeros((N_EMBD, 4), np.float32),
            },
            "must be 2-D",
        ),
        (
            {
                "blk.0.attn_q.weight.lora_a": np.zeros((4, N_EMBD), np.int32),
                "blk.0.attn_q.weight.lora_b": np.zeros((N_EMBD, 4), np.float32),
            },
            "has type I32",
        ),
        ({"blk.0.attn_q.weight.bias": np.zeros((N_EMBD,), np.float32)}, "neither a lora_a"),
        # llama.cpp flips A and B for the embedding and does not check that the ranks agree.
        (
            {
                "token_embd.weight.lora_a": np.zeros((N_VOCAB, 4), np.float32),
                "token_embd.weight.lora_b": np.zeros((N_EMBD, 8), np.float32),
            },
            "does not fit",
        ),
    ],
)
def test_bad_tensors_are_refused(
    tmp_path: Path, tensors: dict[str, np.ndarray], expected: str
) -> None:
    path = write_gguf(tmp_path / "x.gguf", tensors)
    assert expected in verdict_reason(path)


def test_token_embedding_pair_with_llama_cpp_layout_fits(tmp_path: Path) -> None:
    tensors = {
        "token_embd.weight.lora_a": np.zeros((N_VOCAB, 4), np.float16),
        "token_embd.weight.lora_b": np.zeros((N_EMBD, 4), np.float16),
    }
    verdict = check_compatibility(write_gguf(tmp_path / "emb.gguf", tensors), MODEL)
    assert verdict.ok, verdict.reason


def test_truncated_and_foreign_files_are_described_not_raised(tmp_path: Path, lora: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(lora.read_bytes()[: lora.stat().st_size // 2])
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all" * 10)
    for path in (cut, junk):
        info = inspect(path)
        assert not info.readable and info.problem
        verdict = check_compatibility(info, MODEL)
        assert not verdict.ok and verdict.reason == info.problem
        with pytest.raises(AdapterError, match=path.stem):
            require_compatible(info, MODEL)


def test_missing_model_gives_a_verdict(lora: Path, tmp_path: Path) -> None:
    verdict = check_compatibility(lora, tmp_path / "nope.gguf")
    assert not verdict.ok and "nope.gguf" in verdict.reason


def test_discovery_reads_sidecars_and_user_adapters_win(tmp_path: Path, lora: Path) -> None:
    user, bundled = tmp_path / "user", tmp_path / "bundled"
    user.mkdir()
    bundled.mkdir()
    (bundled / "a.gguf").write_bytes(lora.read_bytes())
    (bundled / "a.toml").write_text(
        'name = "formal"\ndescription = "Formal register"\nbase_model = "SmolLM2-135M-Instruct"\n',
        encoding="utf-8",
    )
    (user / "b.gguf").write_bytes(lora.read_bytes())
    (user / "b.json").write_text(
        json.dumps({"name": "formal", "description": "mine"}), encoding="utf-8"
    )
    (bundled / "c.gguf").write_bytes(lora.read_bytes())  # no sidecar: GGUF general.name
    (bundled / "notes.txt").write_text("ignored", encoding="utf-8")
    found = discover([(user, "user"), (bundled, "bundled")])
    assert [(i.name, i.source, i.description) for i in found] == [
        ("calm", "bundled", "Calm, short sentences"),
        ("formal", "user", "mine"),
    ]
    assert found[1].path == user / "b.gguf"


def test_discovery_uses_the_user_and_bundled_folders(lora: Path, locations: Locations) -> None:
    user = locations.user_adapters_dir
    user.mkdir(parents=True)
    (user / "style.gguf").write_bytes(lora.read_bytes())
    (user / "style.toml").write_text('name = "plain"\n', encoding="utf-8")
    dirs = locations.adapter_dirs
    assert dirs[1] == (paths.bundled_models_dir() / "adapters", "bundled")
    names = {i.name for i in discover(dirs)}
    assert "plain" in names
    assert find_adapter("plain", dirs).path == user / "style.gguf"
    with pytest.raises(AdapterError, match=r"unknown adapter 'plian'.*plain"):
        find_adapter("plian", dirs)
    assert find_adapter(str(lora), dirs).name == "calm"  # a path works too


def test_adapter_info_checks_itself(lora: Path) -> None:
    good = inspect(lora)
    with pytest.raises(FrozenInstanceError):
        good.name = "other"  # type: ignore[misc]
    base = dict(
        description="",
        path=lora,
        base_model="",
        architecture="llama",
        rank=8,
        alpha=16.0,
        size_bytes=1,
    )
    for bad in (
        {"name": "a:b"},
        {"name": " pad"},
        {"name": ""},
        {"rank": -1},
        {"alpha": float("nan")},
        {"source": "web"},
        {"rank": 0},
    ):
        with pytest.raises(ValueError):
            AdapterInfo(**{"name": "ok", **base, **bad})  # type: ignore[arg-type]


def test_scales_are_checked() -> None:
    assert check_scale(0, "x") == 0.0 and check_scale("1.5", "x") == 1.5
    assert check_scale(2, "x") == 2.0
    for bad in (-0.1, 2.01, float("inf"), float("nan"), "loud"):
        with pytest.raises(ValueError, match="'x'"):
            check_scale(bad, "x")  # type: ignore[arg-type]


def test_model_layout_is_cached_in_memory_and_on_disk(tmp_path: Path) -> None:
    gguf_header._layouts.clear()  # as in a new process
    first = gguf_header.read_model_layout(MODEL, tmp_path)
    assert gguf_header.read_model_layout(MODEL, tmp_path) is first
    assert first.architecture == "llama"
    assert first.tensors["blk.0.attn_k.weight"][0] == (N_EMBD, N_KV)
    key = gguf_header._file_key(MODEL)
    assert list((tmp_path / "gguf-layout").glob("*.json"))  # written on the first read
    assert gguf_header._load_disk(key, tmp_path) == first
