"""The embedding model's ONNX graph without its NaN guards, prepared once and cached.

The default embedder's graph (a torch export of all-MiniLM-L6-v2) follows each attention
softmax with `Where(IsNaN(p), 0, p)`: a guard for rows whose every key is masked. Its mask
fills with float32's lowest finite value, not -inf, so with finite scores no softmax row
is ever NaN and the guard returns its input unchanged; it still reads and writes every
attention weight twice. Removing it gives the same vectors bit for bit (tests/
test_embed_graph.py) and embeds faster: on the 2-core Xeon, one thread, quiet, SQuAD-train
paragraphs one a call at 30.0-31.1 against 27.4-27.6 a second, sentences in calls of 8 at
61.3-66.3 against 57.6-61.0 (the guards were 18 % of the graph's kernel time, December 7).

The prepared graph is written once into Folio's cache, named by the source's checksum (a
catalog model's verified sha256), so later starts load it directly: importing `onnx` and
rewriting the graph take about a second, once. A graph without the pattern, or one that
cannot be read or rewritten, is used as it is (a marker file remembers it); a prepared
copy that fails to load is discarded the same way (`discard`).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from desktop import atomic

log = logging.getLogger(__name__)

#: Bumped whenever `_without_nan_guards` changes what it writes, so old copies are redone.
VERSION = 1


def prepared(source: Path, checksum: str, cache_dir: Path) -> Path:
    """The graph to load for `source`: its cached prepared copy, made now if missing, or
    `source` itself when there is nothing to remove (remembered by a small marker file, so
    `onnx` is imported once per model, not once per start).

    Args:
        source: the model's ONNX file, as installed and verified.
        checksum: the source's sha256 (verified at install), which names the copy; empty
            for a model the catalog gives none: the file is hashed.
        cache_dir: Folio's cache folder; the copy goes in its `onnx` folder.
    """
    if not checksum:
        from desktop.models.verify import sha256_file

        checksum = sha256_file(source)
    target = cache_dir / "onnx" / f"{checksum[:32]}-v{VERSION}-{source.name}"
    if target.is_file():
        return target
    if _as_is(target).is_file():
        return source
    try:
        data = _without_nan_guards(source)
    except Exception as exc:  # noqa: BLE001 - an unexpected graph: the original is used
        log.warning("embedding graph not prepared (%s); using %s as it is", exc, source)
        data = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            _as_is(target).write_text(f"{source}\n")
            return source
        atomic.write_bytes(target, data)
    except OSError as exc:  # a full disk or a read-only cache: the original is used
        log.warning("embedding graph not cached (%s); using %s as it is", exc, source)
        return source
    return target


def discard(graph: Path, source: Path) -> None:
    """Forget a prepared copy that failed to load (`source` is then used as it is, and
    remembered so; a cache that cannot be written only costs the next start a retry)."""
    if graph != source:
        log.warning("prepared embedding graph %s would not load; using %s", graph, source)
        try:
            graph.unlink(missing_ok=True)
            _as_is(graph).write_text(f"{source}\n")
        except OSError as exc:
            log.warning("could not forget %s: %s", graph, exc)


def _as_is(target: Path) -> Path:
    """The marker saying the graph `target` would hold is to be used as it is."""
    return target.with_name(target.name + ".as-is")


def _without_nan_guards(source: Path) -> bytes | None:
    """The serialized graph of `source` with every `Where(IsNaN(x), 0, x)` replaced by x,
    or None when it holds none (or a mask fill that could make a softmax row NaN)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    # Scalars only (a mask fill, the guard's 0): the weights stay protobuf bytes.
    scalars = {i.name: i for i in graph.initializer if math.prod(i.dims) <= 1}
    for node in graph.node:
        for attr in node.attribute if node.op_type == "Constant" else ():
            if attr.name == "value" and math.prod(attr.t.dims) <= 1:
                scalars[node.output[0]] = attr.t
            elif attr.name == "value_float" and math.isinf(attr.f):
                return None
    constants = {name: numpy_helper.to_array(t) for name, t in scalars.items()}
    if any(np.isinf(v).any() for v in constants.values() if v.dtype.kind == "f"):
        return None  # an infinite mask fill can make a row NaN: the guards stay
    producer = {out: node for node in graph.node for out in node.output}
    replaced: dict[str, str] = {}
    dropped = []
    for node in graph.node:
        if node.op_type != "Where":
            continue
        test = producer.get(node.input[0])
        zero = constants.get(node.input[1])
        if (
            test is not None
            and test.op_type == "IsNaN"
            and test.input[0] == node.input[2]
            and zero is not None
            and zero.size == 1
            and float(zero.reshape(-1)[0]) == 0.0
        ):
            replaced[node.output[0]] = node.input[2]
            dropped.append(node)
    if not dropped:
        return None
    for node in dropped:
        graph.node.remove(node)
    for node in graph.node:
        for k, name in enumerate(node.input):
            node.input[k] = replaced.get(name, name)
    if any(out.name in replaced for out in graph.output):
        return None
    used = {name for node in graph.node for name in node.input}
    for node in [n for n in graph.node if n.op_type == "IsNaN" and n.output[0] not in used]:
        graph.node.remove(node)
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())
