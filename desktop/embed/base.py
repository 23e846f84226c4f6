"""The embedder interface: implement `embed_batch` and `tokenizer`; the rest is inherited."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
from tokenizers import Tokenizer

from desktop.errors import ModelError


class Embedder(ABC):
    """Turns text into unit-length float32 vectors of a fixed dimension.

    Attributes:
        model_id: recorded in the library so a library is never searched with another model.
        dim: vector dimension.
        concurrency: how many `embed_batch` calls may usefully run at once, on as many
            threads (the indexer uses that many; 1 for an embedder that is not thread-safe).
    """

    model_id: str
    dim: int
    batch_size: int = 32
    concurrency: int = 1

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages; returns an array of shape (len(texts), dim)."""

    @abstractmethod
    def tokenizer(self) -> Tokenizer:
        """The model's own tokenizer, without padding or truncation, for sizing chunks."""

    def checked(self, vectors: np.ndarray, count: int, hint: str = "") -> np.ndarray:
        """`vectors` if they are `count` vectors of this embedder's dimension; else a
        ModelError that says what came back, and `hint` (what may have caused it)."""
        if vectors.shape != (count, self.dim):
            raise ModelError(
                f"embedding model {self.model_id} returned vectors of shape {vectors.shape}, "
                f"expected ({count}, {self.dim}){hint}"
            )
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a search query (models with a query instruction override this)."""
        return self.embed_batch([text])[0]

    def embed_many(self, texts: Sequence[str]) -> np.ndarray:
        """Embed any number of passages in length-sorted batches (less padding, same order)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self.embed_batch([texts[i] for i in idx])
        return out
