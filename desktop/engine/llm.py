"""The language model engine: one resident GGUF model behind a handful of methods.

llama.cpp contexts are not thread-safe: an `Engine` must be used from one thread only
(the GUI keeps it on its own worker thread).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from desktop.cancel import CancelToken
from desktop.errors import ModelError

log = logging.getLogger(__name__)


def default_threads() -> int:
    """Physical-ish core count: llama.cpp gains nothing from hyper-threads."""
    return max(1, min(8, os.cpu_count() or 1))


class Engine:
    """A loaded chat model that streams replies using the chat template stored in its GGUF.

    Args:
        model_path: the GGUF file.
        n_ctx: context window in tokens.
        n_threads: CPU threads (None: a sensible default for this machine).
        gpu_layers: layers to offload (0: CPU only, -1: all).
        seed: sampling seed, so answers repeat.
    """

    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        gpu_layers: int = 0,
        seed: int = 0,
    ) -> None:
        from llama_cpp import Llama

        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelError(f"model file not found: {self.model_path}")
        try:
            self._llm = Llama(
                model_path=str(self.model_path),
                n_ctx=n_ctx,
                n_threads=n_threads or default_threads(),
                n_gpu_layers=gpu_layers,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load model {self.model_path}: {exc}") from exc
        self.n_ctx = n_ctx

    @property
    def architecture(self) -> str:
        return str(self._llm.metadata.get("general.architecture", ""))

    @property
    def llama(self) -> Any:
        """The underlying llama_cpp.Llama, for the engine's own modules only."""
        return self._llm

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream_chat(
        self,
        messages: Sequence[dict[str, str]],
        max_tokens: int = 384,
        cancel: CancelToken | None = None,
        temperature: float = 0.0,
    ) -> Iterator[str]:
        """Yield the reply to `messages` piece by piece; stops early when `cancel` is set."""
        stream = self._llm.create_chat_completion(
            messages=list(messages),
            max_tokens=max_tokens,
            temperature=temperature,
            repeat_penalty=1.1,
            stream=True,
        )
        with contextlib.closing(stream):  # type: ignore[type-var]
            for event in stream:
                if cancel is not None and cancel.cancelled:
                    return
                delta = event["choices"][0]["delta"].get("content")  # type: ignore[index]
                if delta:
                    yield delta

    def close(self) -> None:
        self._llm.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
