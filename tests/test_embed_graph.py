"""The embedding graph prepared without its NaN guards (desktop/embed/graph.py), on the real
default model: the same vectors, bit for bit, padded batches included; made once and
cached; and any failure leaves the verified original in use."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import pytest

from desktop import atomic
from desktop.config import Config
from desktop.embed import graph
from desktop.embed.fastembed_embedder import FastEmbedEmbedder
from desktop.models.catalog import load_catalog
from desktop.paths import Locations
from desktop.settings import Settings

TEXTS = [
    "The last keeper, Morag Duncan, left in 1994.",
    "Skerry Point lighthouse was built in 1871 on the rocks north of the harbour, and its "
    "light was automated a century later, when the keepers' cottages became a museum.",
    "Why?",
    "Pharmacy technicians depend on automation to assist them with prescriptions.",
]


@pytest.fixture(scope="module")
def model(embedding_model_dir: Path) -> tuple[Path, str, str, int]:
    spec = load_catalog().default("embedding")
    assert spec.fastembed_name is not None and spec.dim is not None
    return embedding_model_dir, spec.file, spec.fastembed_name, spec.dim


def _ops(path: Path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def test_the_prepared_graph_embeds_exactly_as_the_original(
    model: tuple[Path, str, str, int], tmp_path: Path
) -> None:
    folder, file, name, dim = model
    prepared = graph.prepared(folder / file, "ab" * 32, tmp_path)
    assert prepared != folder / file and prepared.parent == tmp_path / "onnx"
    before, after = _ops(folder / file), _ops(prepared)
    assert before.count("IsNaN") == 6 and "IsNaN" not in after
    assert after.count("Where") == before.count("Where") - 6
    original = FastEmbedEmbedder("m", name, folder, dim, threads=1, model_file=file)
    fast = FastEmbedEmbedder("m", name, folder, dim, threads=1, model_file=file, graph=prepared)
    assert (original.graph, fast.graph) == (folder / file, prepared)
    assert fast._model.model.model._model_path == str(prepared)  # the session runs it
    for batch in (TEXTS, TEXTS[:1], TEXTS[1:3]):  # padded and unpadded
        a, b = original.embed_batch(batch), fast.embed_batch(batch)
        assert np.isfinite(b).all()
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(original.embed_query(TEXTS[2]), fast.embed_query(TEXTS[2]))


def test_it_is_made_once_then_loaded_from_the_cache(
    model: tuple[Path, str, str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, file, _, _ = model
    first = graph.prepared(folder / file, "cd" * 32, tmp_path)
    made = first.stat().st_mtime_ns

    def no_rewrite(source: Path) -> bytes | None:
        raise AssertionError("prepared again")

    monkeypatch.setattr(graph, "_without_nan_guards", no_rewrite)
    assert graph.prepared(folder / file, "cd" * 32, tmp_path) == first
    assert first.stat().st_mtime_ns == made
    assert list((tmp_path / "onnx").iterdir()) == [first]  # no partial file left


def test_a_graph_without_guards_or_a_bad_one_is_used_as_it_is_and_remembered(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    model: tuple[Path, str, str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder, file, _, _ = model
    once = graph.prepared(folder / file, "ef" * 32, tmp_path)
    assert graph.prepared(once, "", tmp_path / "again") == once  # nothing left to remove
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx graph")
    with caplog.at_level(logging.WARNING, logger="desktop.embed.graph"):
        assert graph.prepared(broken, "", tmp_path / "bad") == broken
    assert "embedding graph not prepared" in caplog.text
    # Both are remembered: a marker, no copy; the next start does not look again.
    for cache in (tmp_path / "again", tmp_path / "bad"):
        assert [p.suffix for p in (cache / "onnx").iterdir()] == [".as-is"]

    def looked_again(source: Path) -> bytes | None:
        raise AssertionError("looked again")

    monkeypatch.setattr(graph, "_without_nan_guards", looked_again)
    assert graph.prepared(broken, "", tmp_path / "bad") == broken


def test_a_failed_write_leaves_no_partial_file(
    tmp_path: Path, model: tuple[Path, str, str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, file, _, _ = model

    def full_disk(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full_disk)
    assert graph.prepared(folder / file, "12" * 32, tmp_path) == folder / file
    assert list((tmp_path / "onnx").iterdir()) == []


def test_a_cut_short_cached_graph_is_discarded_and_the_original_loaded(
    model: tuple[Path, str, str, int], tmp_path: Path
) -> None:
    """A power cut mid-write cannot leave Folio unable to embed: a cached copy that will not
    load is thrown away, the verified original is loaded, and later starts use it."""
    folder, file, name, dim = model
    prepared = graph.prepared(folder / file, "34" * 32, tmp_path)
    prepared.write_bytes(prepared.read_bytes()[:1000])
    embedder = FastEmbedEmbedder("m", name, folder, dim, threads=1, model_file=file, graph=prepared)
    assert embedder.graph == folder / file and not prepared.exists()
    assert embedder.embed_batch(TEXTS[:1]).shape == (1, dim)
    assert graph.prepared(folder / file, "34" * 32, tmp_path) == folder / file


def test_the_session_embedder_runs_the_prepared_graph(locations: Locations, tmp_path: Path) -> None:
    from desktop.components import fastembed_embedder

    config = Config.resolve(Settings(), locations, tmp_path / "library.sqlite")
    spec = load_catalog().get(config.settings.embedding_model)
    embedder = fastembed_embedder(config, spec)
    cached = list((locations.cache_dir / "onnx").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith(spec.sha256[:32])
    assert "IsNaN" not in _ops(cached[0])
    assert embedder.embed_batch(TEXTS).shape == (len(TEXTS), spec.dim)


def test_a_cache_that_cannot_be_written_does_not_stop_the_fallback(
    model: tuple[Path, str, str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy will not load and its marker cannot be written: the original still loads."""
    folder, file, name, dim = model
    prepared = graph.prepared(folder / file, "56" * 32, tmp_path)
    prepared.write_bytes(b"cut short")
    monkeypatch.setattr(graph, "_as_is", lambda target: tmp_path / "gone" / "marker")
    embedder = FastEmbedEmbedder("m", name, folder, dim, threads=1, model_file=file, graph=prepared)
    assert embedder.graph == folder / file and not prepared.exists()
