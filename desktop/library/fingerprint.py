"""Which embedder made a library's vectors: its name and dimension (recorded by the library
itself) and a fingerprint, the vector of a fixed text. Two embedders with the same name but
different weights (another quantisation, another server behind the same name) give
different fingerprints, and their vectors must not meet in one library."""

from __future__ import annotations

import json

import numpy as np

from desktop.embed.base import Embedder
from desktop.errors import LibraryError
from desktop.library.store import Library

FINGERPRINT_TEXT = "Folio fingerprints its embedder with this sentence about turbines and tea."
KEY = "embedding_fingerprint"
# The same model on another runtime or thread count differs by rounding only (cosine above
# 0.999); another model, or the same one quantised differently, lands far below.
SAME = 0.99


def fingerprint(embedder: Embedder) -> np.ndarray:
    return np.asarray(embedder.embed_query(FINGERPRINT_TEXT), dtype=np.float32)


def recorded(library: Library) -> np.ndarray | None:
    raw = library.meta(KEY)
    return None if raw is None else np.asarray(json.loads(raw), dtype=np.float32)


def check_embedder(library: Library, embedder: Embedder, record: bool) -> None:
    """Refuse `embedder` if the library's vectors came from another one.

    Args:
        record: keep this embedder's fingerprint if the library has none yet (the indexer
            is about to write vectors with it).

    Raises:
        LibraryError: another embedder made the vectors; the message says how to re-index.
    """
    bound = library.embedder()
    if bound is not None and bound != (embedder.model_id, embedder.dim):
        raise LibraryError(
            f"library {library.path} was indexed with embedder {bound[0]} ({bound[1]} "
            f"dimensions), but Folio is set to use {embedder.model_id} ({embedder.dim}). "
            f"Vectors of two embedders cannot be mixed: switch the embedder back, or re-index "
            "the library with this one (`folio rebuild`, which keeps the old file)."
        )
    mine = fingerprint(embedder)
    theirs = recorded(library)
    if theirs is None:
        if record:
            with library.db:
                library.db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
                    (KEY, json.dumps([round(float(x), 6) for x in mine])),
                )
        return
    same = theirs.shape == mine.shape and float(np.dot(theirs, mine)) >= SAME
    if not same:
        cosine = float(np.dot(theirs, mine)) if theirs.shape == mine.shape else 0.0
        raise LibraryError(
            f"library {library.path} was indexed by another embedder than {embedder.model_id}, "
            f"though it goes by the same name (their fingerprints differ: cosine {cosine:.3f}). "
            "Its vectors and this embedder's cannot be mixed: switch the embedder back, or "
            "re-index the library with this one (`folio rebuild`, which keeps the old file)."
        )
