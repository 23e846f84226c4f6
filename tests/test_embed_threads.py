"""The real embedder serves several indexing threads from one single-threaded ONNX session
whose idle threads sleep instead of spinning, and gives the same vectors either way."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime as ort
import pytest

pytestmark = pytest.mark.slow

_TEXTS = [f"The turbine at station {i} produced {i * 7} megawatts in winter." for i in range(24)]


def test_one_quiet_single_threaded_session_serves_concurrent_calls(real_embedder) -> None:  # type: ignore[no-untyped-def]
    session = real_embedder._model.model.model
    assert isinstance(session, ort.InferenceSession)
    options = session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert not options.enable_mem_pattern and not options.enable_cpu_mem_arena
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    assert real_embedder.concurrency >= 1

    alone = np.concatenate([real_embedder.embed_batch(_TEXTS[i : i + 4]) for i in range(0, 24, 4)])
    with ThreadPoolExecutor(4) as pool:
        parts = list(
            pool.map(real_embedder.embed_batch, [_TEXTS[i : i + 4] for i in range(0, 24, 4)])
        )
    assert np.allclose(np.concatenate(parts), alone, atol=1e-5)
