"""Deterministic fakes of the two model parts, registered like the real ones.

`HashingEmbedder` is a real embedder of a simple kind: each word is hashed into one of
`dim` signed buckets (feature hashing), so texts that share words are similar and the same
text always has the same vector. Its tokenizer is a real `tokenizers` word-level tokenizer,
so the chunker measures chunks with it exactly as it does with MiniLM's.

`ScriptedEngine` streams replies that a function writes from the messages, word by word,
with optional delays per token and for the prefill, and honours the cancel token between
tokens like the llama.cpp engine. It records the prompts it was given.

`fake_registry()` registers both under their own model ids; a Session built with it and
settings naming those ids uses them everywhere the real parts would be used.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, models, pre_tokenizers

from desktop.cancel import CancelToken
from desktop.components import Registry
from desktop.config import Config
from desktop.embed.base import Embedder
from desktop.engine.api import EngineInfo
from desktop.engine.lora import AdapterSpec
from desktop.models.spec import ModelSpec

HASHING_ID = "fake-hashing-64"
SCRIPTED_ID = "fake-scripted"

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder(Embedder):
    """Feature-hashing bag of words: deterministic, fast, no model files."""

    def __init__(self, dim: int = 64, model_id: str = HASHING_ID) -> None:
        self.model_id = model_id
        self.dim = dim
        self.batches = 0
        self.texts_embedded = 0
        tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        self._tokenizer = tokenizer

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dim
            v[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            v[0] = 1.0
            return v
        return v / norm

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        self.batches += 1
        self.texts_embedded += len(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim))

    def tokenizer(self) -> Tokenizer:
        return self._tokenizer


Script = Callable[[Sequence[dict[str, str]]], str]


def echo_first_passage(messages: Sequence[dict[str, str]]) -> str:
    """Answer with the first sentence of passage [1], cited: what a grounded model does."""
    user = messages[-1]["content"]
    match = re.search(r"\[1\]\s*(.+?[.!?])(\s|$)", user, re.S)
    if match is None:
        return "The documents do not say."
    return f"{' '.join(match.group(1).split())} [1]"


class ScriptedEngine:
    """A chat engine that says what `script` writes, one word per token."""

    def __init__(
        self,
        script: Script = echo_first_passage,
        token_delay_s: float = 0.0,
        prefill_delay_s: float = 0.0,
        first_delayed_token: int = 0,
        model_path: Path = Path("scripted.gguf"),
    ) -> None:
        self.script = script
        self.token_delay_s = token_delay_s
        self.first_delayed_token = first_delayed_token  # tokens before it come at once
        self.prefill_delay_s = prefill_delay_s
        self.model_path = model_path
        self.prompts: list[list[dict[str, str]]] = []
        self.closed = False
        self.adapter_calls: list[list[AdapterSpec]] = []
        self._adapters: tuple[tuple[str, float], ...] = ()
        self.prefill_rate: float | None = None  # tests set the machine's measured speed

    @property
    def prefill_tokens_per_s(self) -> float | None:
        return self.prefill_rate

    def stream_chat(
        self,
        messages: Sequence[dict[str, str]],
        max_tokens: int = 384,
        cancel: CancelToken | None = None,
        temperature: float = 0.0,
    ) -> Iterator[str]:
        if self.closed:
            raise RuntimeError("the engine is closed")
        self.prompts.append([dict(m) for m in messages])
        if self.prefill_delay_s:
            time.sleep(self.prefill_delay_s)
        words = self.script(messages).split(" ")
        for i, word in enumerate(words[:max_tokens]):
            if cancel is not None and cancel.cancelled:
                return
            if self.token_delay_s and i >= self.first_delayed_token:
                time.sleep(self.token_delay_s)
            yield word if i == 0 else " " + word

    def set_adapters(self, adapters: Sequence[AdapterSpec]) -> None:
        self.adapter_calls.append(list(adapters))
        self._adapters = tuple(
            (ref if isinstance(ref, str) else Path(str(getattr(ref, "path", ref))).stem, s)
            for ref, s in adapters
            if s > 0
        )

    @property
    def active_adapters(self) -> tuple[tuple[str, float], ...]:
        return self._adapters

    def warm_prefix(self, messages: Sequence[dict[str, str]]) -> bool:
        return False

    @property
    def info(self) -> EngineInfo:
        return EngineInfo(model=self.model_path.name, context=4096)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        self.closed = True


def fake_registry(
    embedder: HashingEmbedder | None = None, engine: ScriptedEngine | None = None
) -> Registry:
    """A registry whose fake model ids build these fakes (new ones when not given)."""
    registry = Registry()

    def build_embedder(_config: Config, _spec: ModelSpec | None) -> Embedder:
        return embedder or HashingEmbedder()

    def build_engine(_config: Config, _spec: ModelSpec | None) -> ScriptedEngine:
        return engine or ScriptedEngine()

    registry.register_embedder(HASHING_ID, build_embedder)
    registry.register_chat_engine(SCRIPTED_ID, build_engine)
    return registry
