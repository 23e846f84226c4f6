"""Folio's own GGUF header parse against the gguf package's reader, on a file with every
value type and on a shipped adapter; damaged files fail with a ValueError that says where;
and the llama loader's name map and rotary un-permutation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGUFReader, GGUFValueType, GGUFWriter

from desktop.adapters.gguf_parse import SHORT_ARRAY, parse

REPO = Path(__file__).resolve().parent.parent


def _reader_view(path: Path) -> tuple[dict[str, tuple[str, object]], dict[str, tuple]]:
    """What gguf.GGUFReader says of a file, in gguf_parse's terms."""
    reader = GGUFReader(path)
    fields: dict[str, tuple[str, object]] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        main = field.types[0]
        if main == GGUFValueType.ARRAY:
            kind = f"ARRAY[{field.types[-1].name}]"
            value = field.contents() if len(field.data) <= SHORT_ARRAY else None
        else:
            kind, value = main.name, field.contents()
        fields[key] = (kind, value)
    tensors = {
        t.name: (tuple(int(d) for d in t.shape.tolist()), t.tensor_type.name,
                 int(t.data_offset), int(t.n_bytes))
        for t in reader.tensors
    }  # fmt: skip
    return fields, tensors


def _every_type(path: Path) -> Path:
    w = GGUFWriter(str(path), "llama")
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -5)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -300)
    w.add_uint32("t.u32", 4_000_000_000)
    w.add_int32("t.i32", -70000)
    w.add_float32("t.f32", 1e-5)
    w.add_uint64("t.u64", 1 << 40)
    w.add_int64("t.i64", -(1 << 40))
    w.add_float64("t.f64", 0.1)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "naïve ✓")
    w.add_array("t.short", [1, 2, 3])
    w.add_array("t.words", ["a", "bb", "ccc"])
    w.add_array("t.long_words", [f"tok{i}" for i in range(SHORT_ARRAY + 10)])
    w.add_array("t.long_ints", list(range(SHORT_ARRAY + 1)))
    w.add_tensor("a.weight", np.arange(64, dtype=np.float32).reshape(2, 32))
    w.add_tensor("b.weight", np.ones((3, 32), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.mark.parametrize("which", ["every-type", "shipped-adapter"])
def test_the_parse_says_what_the_gguf_reader_says(tmp_path: Path, which: str) -> None:
    if which == "every-type":
        path = _every_type(tmp_path / "t.gguf")
    else:
        path = REPO / "models" / "adapters" / "grounded.gguf"
    parsed = parse(path)
    fields, tensors = _reader_view(path)
    assert {k: (f.kind, f.value) for k, f in parsed.fields.items()} == fields
    assert {n: (t.shape, t.dtype, t.offset, t.n_bytes) for n, t in parsed.tensors.items()} == (
        tensors
    )
    if which == "every-type":
        assert parsed.fields["t.long_words"].count == SHORT_ARRAY + 10
        full = parse(path, full_arrays={"t.long_words"}).fields["t.long_words"]
        assert full.value == [f"tok{i}" for i in range(SHORT_ARRAY + 10)]


def test_a_damaged_file_is_a_value_error_that_says_where(tmp_path: Path) -> None:
    good = _every_type(tmp_path / "t.gguf").read_bytes()
    header_end = parse(tmp_path / "t.gguf").data_start
    for cut in range(0, header_end, 5):  # truncated anywhere in the header
        (tmp_path / "cut.gguf").write_bytes(good[:cut])
        with pytest.raises(ValueError):
            parse(tmp_path / "cut.gguf")
    (tmp_path / "short.gguf").write_bytes(good[:-8])  # the last tensor's data cut short
    with pytest.raises(ValueError, match="'b.weight' extends past the end"):
        parse(tmp_path / "short.gguf")
    for bad, message in (
        (b"GGUX" + good[4:], "no GGUF magic"),
        (good[:4] + (9).to_bytes(4, "little") + good[8:], "version 9"),
        (good[:8] + (1 << 40).to_bytes(8, "little") + good[16:], "implausible count"),
    ):
        (tmp_path / "bad.gguf").write_bytes(bad)
        with pytest.raises(ValueError, match=message):
            parse(tmp_path / "bad.gguf")


def test_llama_names_and_the_rotary_permutation_round_trip() -> None:
    pytest.importorskip("torch", reason="the [train] extra is not installed")
    from desktop.train.export import rope_permute
    from desktop.train.gguf_llama import hf_name, unpermute

    assert hf_name("blk.7.attn_q.weight") == "model.layers.7.self_attn.q_proj.weight"
    assert hf_name("blk.0.ffn_down.weight") == "model.layers.0.mlp.down_proj.weight"
    assert hf_name("output.weight") == "lm_head.weight"
    assert hf_name("rope_freqs.weight") is None and hf_name("blk.x.attn_q.weight") is None
    rows = np.arange(3 * 64 * 5, dtype=np.float32).reshape(3 * 64, 5)
    assert np.array_equal(unpermute(rope_permute(rows, 3), 3), rows)
    assert not np.array_equal(rope_permute(rows, 3), rows)


def test_only_a_plain_llama_file_takes_the_fast_loader(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the [train] extra is not installed")
    from desktop.train.gguf_llama import unsupported

    assert unsupported(parse(_every_type(tmp_path / "t.gguf"))) == "it has no llama.block_count"
    w = GGUFWriter(str(tmp_path / "s.gguf"), "llama")
    for key in ("block_count", "embedding_length", "feed_forward_length", "attention.head_count"):
        w.add_uint32(f"llama.{key}", 1)
    w.add_string("llama.rope.scaling.type", "yarn")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()
    assert unsupported(parse(tmp_path / "s.gguf")) == "it uses rope scaling"
