"""A library records which embedder made its vectors (name, dimension, fingerprint) and
refuses another one, even under the same name, saying how to re-index."""

from __future__ import annotations

import numpy as np
import pytest

from desktop.config import Config
from desktop.errors import LibraryError
from desktop.library.fingerprint import KEY, check_embedder
from desktop.sample import make_corpus
from desktop.session import Session
from tests.fakes import HASHING_ID, HashingEmbedder, fake_registry

pytestmark = pytest.mark.fast


class ReweightedEmbedder(HashingEmbedder):
    """Another model under the fake's name: the same words hash to other buckets."""

    def _vector(self, text: str) -> np.ndarray:
        return super()._vector(text[::-1])


def test_the_same_name_with_other_weights_is_refused(fake_config: Config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Session(fake_config, fake_registry()) as s:
        s.indexer.index([make_corpus(tmp_path)])
        assert s.library.meta(KEY) is not None, "indexing records the fingerprint"
        check_embedder(s.library, HashingEmbedder(), record=False)  # the same: accepted
        with pytest.raises(LibraryError, match="folio rebuild") as refused:
            check_embedder(s.library, ReweightedEmbedder(model_id=HASHING_ID), record=False)
        assert "same name" in str(refused.value)


def test_a_session_with_another_embedder_refuses_to_search(fake_config: Config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Session(fake_config, fake_registry()) as s:
        s.indexer.index([make_corpus(tmp_path)])
    registry = fake_registry()
    registry.register_embedder(HASHING_ID, lambda _c, _s: ReweightedEmbedder())
    with Session(fake_config, registry) as s, pytest.raises(LibraryError, match="re-index"):
        _ = s.searcher
