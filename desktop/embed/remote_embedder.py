"""An embedder on a server: `POST /v1/embeddings` of an OpenAI-compatible server (llama-server
with `--embeddings`, vLLM with a pooling model, Ollama), for a library a team indexes once on
a server.

Chunks are still sized with a local tokenizer (the default embedding model's): sizing only
needs a count close to the server model's, and never a round trip per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePath

import numpy as np
from tokenizers import Tokenizer

from desktop.embed.base import Embedder
from desktop.engine.endpoint import Endpoint, get_json, post_json
from desktop.errors import ServerError

PROBE_TEXT = "Folio"


class RemoteEmbedder(Embedder):
    """Unit-length vectors from a server's `/v1/embeddings`.

    Args:
        endpoint: the server (its `model`: "" for the one it serves).
        tokenizer_dir: a local embedding model folder whose `tokenizer.json` sizes chunks.

    Raises:
        ServerError: unreachable, wrong key, no such model, or no embeddings endpoint.
    """

    def __init__(self, endpoint: Endpoint, tokenizer_dir: Path) -> None:
        self.endpoint = endpoint
        self._client = endpoint.client(read_timeout_s=120)
        self._tokenizer_dir = tokenizer_dir
        self._tokenizer: Tokenizer | None = None
        try:
            model = endpoint.model or self._served_model()
            self.model = model
            # Recorded in the library: the server's model (llama-server's id is the file's
            # path: its name), wherever it is served from.
            self.model_id = f"server:{PurePath(model).name}"
            self.dim = int(self._vectors([PROBE_TEXT]).shape[1])
        except BaseException:
            self._client.close()
            raise

    def _served_model(self) -> str:
        listing = get_json(self._client, self.endpoint, "/v1/models")
        data = listing.get("data", []) if isinstance(listing, dict) else []
        ids = [str(e["id"]) for e in data if isinstance(e, dict) and e.get("id")]
        if not ids:
            raise ServerError(f"the server at {self.endpoint.host} serves no model")
        return ids[0]

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        body = {"model": self.model, "input": list(texts), "encoding_format": "float"}
        answer = post_json(self._client, self.endpoint, "/v1/embeddings", body)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list) or len(data) != len(texts):
            raise ServerError(
                f"the server at {self.endpoint.host} sent no embeddings; is it started with "
                "an embedding model (llama-server: --embeddings)?"
            )
        ordered = sorted(data, key=lambda d: int(d.get("index", 0)))
        vectors = np.asarray([d["embedding"] for d in ordered], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1.0)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self._vectors(texts)
        if vectors.shape != (len(texts), self.dim):
            raise ServerError(
                f"the server's embeddings changed shape: {vectors.shape}, expected "
                f"({len(texts)}, {self.dim}); was another model loaded there?"
            )
        return vectors

    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            from desktop.ingest.chunker import load_tokenizer

            self._tokenizer = load_tokenizer(self._tokenizer_dir)
        return self._tokenizer

    def close(self) -> None:
        self._client.close()
