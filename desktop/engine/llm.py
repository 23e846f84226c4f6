"""The language model engine: one resident GGUF model behind a handful of methods.

Style adapters (LoRA) are hot-swapped on the resident model with `set_adapters`; the model
is never reloaded (see `desktop.engine.lora`).

llama.cpp contexts are not thread-safe: an `Engine` must be used from one thread only
(the GUI keeps it on its own worker thread).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import cast

import llama_cpp
from llama_cpp import llama_types

from desktop.adapters import AdapterDirs
from desktop.cancel import CancelToken
from desktop.closing import Closeable
from desktop.engine import llama_internals
from desktop.engine.api import LOCAL, EngineInfo
from desktop.engine.gpu import ALL_LAYERS
from desktop.engine.lora import AdapterSpec, AdapterSwitcher, SwitchStats
from desktop.engine.prefix_cache import forget_all
from desktop.errors import ModelError

DEFAULT_PREFIX_CACHE_BYTES = 64 * 2**20
REPEAT_PENALTY = 1.1
MIN_TIMED_BATCH = 32  # shorter prompt batches say little about the prefill speed

log = logging.getLogger(__name__)


def default_threads() -> int:
    """Physical-ish core count: llama.cpp gains nothing from hyper-threads."""
    return max(1, min(8, os.cpu_count() or 1))


class Engine(Closeable):
    """A loaded chat model that streams replies using the chat template stored in its GGUF.

    Args:
        model_path: the GGUF file.
        n_ctx: context window in tokens.
        n_threads: CPU threads (None: a sensible default for this machine).
        gpu_layers: layers to offload: 0 (CPU only), N, or -1 (all), as resolved by
            `desktop.engine.gpu.resolve_gpu_layers`. If loading with offload fails, the
            model is loaded on the CPU (`gpu_fallback` says why).
        seed: sampling seed, so answers repeat.
        prefix_cache_bytes: bound on the saved system-prompt states, one per adapter set.
        adapter_dirs: folders where adapters named in `set_adapters` are looked for.
        cache_dir: where the model's tensor layout is cached between runs (None: memory).
        repeat_penalty: llama.cpp's repeat penalty over the last 64 generated tokens (1.0:
            none; the HTTP engine's comparison tests set it).
    """

    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        gpu_layers: int = 0,
        seed: int = 0,
        prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE_BYTES,
        adapter_dirs: AdapterDirs = (),
        cache_dir: Path | None = None,
        repeat_penalty: float = REPEAT_PENALTY,
    ) -> None:
        self.model_path = Path(model_path)
        self.repeat_penalty = repeat_penalty
        if not self.model_path.is_file():
            raise ModelError(f"model file not found: {self.model_path}")
        if gpu_layers < ALL_LAYERS:
            raise ModelError(f"gpu_layers must be -1 (all), 0 or more, got {gpu_layers}")
        llama_internals.warn_if_mismatched()
        layers = gpu_layers
        self.gpu_fallback: str | None = None
        threads = n_threads or default_threads()
        try:
            self._llm = self._load(n_ctx, threads, layers, seed)
        except (ValueError, RuntimeError) as exc:
            if layers == 0:
                raise ModelError(f"cannot load model {self.model_path}: {exc}") from exc
            log.warning(
                "loading %s with %s GPU layers failed (%s); using the CPU",
                self.model_path.name,
                layers,
                exc,
            )
            self.gpu_fallback = str(exc) or type(exc).__name__
            layers = 0
            try:
                self._llm = self._load(n_ctx, threads, 0, seed)
            except (ValueError, RuntimeError) as exc2:
                raise ModelError(f"cannot load model {self.model_path}: {exc2}") from exc2
        self.gpu_layers = layers
        self.n_ctx = n_ctx
        self._adapters_dirs = adapter_dirs
        self._prefill_rate: float | None = None
        self._adapters = AdapterSwitcher(
            self._llm, self.model_path, prefix_cache_bytes, adapter_dirs, cache_dir
        )
        # Adapters must be freed before the model, whether the engine is closed or merely
        # garbage collected.
        llama_internals.on_close(self._llm, self._adapters.close)

    def _load(self, n_ctx: int, threads: int, layers: int, seed: int) -> llama_cpp.Llama:
        return llama_cpp.Llama(
            model_path=str(self.model_path),
            n_ctx=n_ctx,
            n_threads=threads,
            n_gpu_layers=layers,
            seed=seed,
            # Flash attention, measured side by side on 2 CPU cores (SmolLM2-135M): raw prefill
            # 190 vs 165 tok/s; SciFact answers' first token 4.26 vs 4.83 s, but generation
            # 55 vs 64 tok/s. Break-even is ~235 answer tokens, so typical answers gain.
            flash_attn=True,
            verbose=False,
        )

    @property
    def architecture(self) -> str:
        return str(self._llm.metadata.get("general.architecture", ""))

    @property
    def info(self) -> EngineInfo:
        from desktop.adapters import discover

        return EngineInfo(
            model=self.model_path.name,
            context=self.n_ctx,
            where=LOCAL,
            adapters=tuple(i.name for i in discover(self._adapters_dirs)),
        )

    @property
    def llama(self) -> llama_cpp.Llama:
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
        """Yield the reply to `messages` piece by piece; stops early when `cancel` is set,
        within a token while generating and within a graph step while reading the prompt."""
        prefix = self._adapters.before_prompt(messages)
        if not self._prefill(messages, prefix, cancel or CancelToken()):
            return
        chat = [cast(llama_types.ChatCompletionRequestMessage, dict(m)) for m in messages]
        stream = self._llm.create_chat_completion(
            messages=chat,
            max_tokens=max_tokens,
            temperature=temperature,
            repeat_penalty=self.repeat_penalty,
            stream=True,
        )
        if isinstance(stream, dict):  # only without stream=True
            raise TypeError("llama-cpp-python returned a whole completion, not a stream")
        try:
            for event in stream:
                if cancel is not None and cancel.cancelled:
                    return
                piece = _content(event)
                if piece:
                    yield piece
                    if cancel is not None and cancel.cancelled:
                        return  # before decoding another token
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def _prefill(
        self, messages: Sequence[dict[str, str]], prefix: Sequence[int], cancel: CancelToken
    ) -> bool:
        """Evaluate the prompt (all but its last token) where Stop can interrupt it.

        llama-cpp-python's completion would prefill the prompt in one uninterruptible call;
        evaluated here first, under llama.cpp's abort callback, the completion finds it in
        the context and only evaluates the last token. Returns False if cancelled (the
        context is then emptied: a decode cut short leaves it undefined).

        The system prefix is always read as a batch of its own, whether or not a saved
        state of it exists: every answer then comes from the same batches, [prefix], [rest],
        [last token], so a restored prefix gives exactly the answer a fresh read gives.
        (With Q8_0 weights llama.cpp's kernels round differently for batches of different
        sizes, so the prefix read inside a longer batch would not be the saved one.)
        """
        tokens = self._adapters.render(messages)
        if not tokens or len(tokens) < 2:
            return not cancel.cancelled
        remaining = llama_internals.keep_evaluated(self._llm, tokens[:-1])
        done = len(tokens) - 1 - len(remaining)
        batches = [remaining]
        starts_with_prefix = tuple(tokens[: len(prefix)]) == tuple(prefix)
        if prefix and done < len(prefix) < len(tokens) - 1 and starts_with_prefix:
            split = len(prefix) - done
            batches = [remaining[:split], remaining[split:]]
        try:
            with llama_internals.abort_when(self._llm, lambda: cancel.cancelled):
                for batch in batches:
                    if batch and not cancel.cancelled:
                        started = time.perf_counter()
                        self._llm.eval(batch)
                        self._note_prefill(len(batch), time.perf_counter() - started)
        except RuntimeError:
            if not cancel.cancelled:
                raise
        if cancel.cancelled:
            forget_all(self._llm)
            return False
        return True

    def _note_prefill(self, tokens: int, seconds: float) -> None:
        """Keep a smoothed prompt-reading speed from batches long enough to tell."""
        if tokens < MIN_TIMED_BATCH or seconds <= 0:
            return
        rate = tokens / seconds
        last = self._prefill_rate
        self._prefill_rate = rate if last is None else 0.7 * last + 0.3 * rate

    @property
    def prefill_tokens_per_s(self) -> float | None:
        return self._prefill_rate

    def set_adapters(self, adapters: Sequence[AdapterSpec]) -> None:
        """Make these LoRA adapters, with these scales, the active ones; `[]` means none.

        Each item is `(adapter, scale)`: the adapter by name (see `folio adapters list`), by
        the path of its `.gguf` file, or as an `AdapterInfo`; the scale is 0 to 2 (0 is the
        same as leaving it out). Adapters are validated against the model and loaded on
        first use and stay loaded; switching never reloads the model. The next answer is
        computed under the new set only: no cached state of another set is reused.

        Raises:
            AdapterError: unknown adapter, bad scale, or an adapter that does not fit the
                model. The previous set stays active and the engine keeps working.
        """
        self._adapters.set(adapters)

    @property
    def active_adapters(self) -> tuple[tuple[str, float], ...]:
        """The applied adapters as `(name, scale)`, in the order given."""
        return self._adapters.active

    @property
    def loaded_adapters(self) -> tuple[str, ...]:
        """Names of the adapters loaded in llama.cpp (active or not)."""
        return tuple(a.info.name for a in self._adapters.pool.loaded)

    def unload_adapter(self, adapter: str | Path) -> None:
        """Free a loaded adapter's memory, deactivating it first if it is active."""
        self._adapters.unload(adapter)

    def warm_prefix(self, messages: Sequence[dict[str, str]]) -> bool:
        """Get the system-prompt prefix of `messages` ready under the active adapters.

        Restores the saved state or evaluates the prefix now, so the next `stream_chat`
        with the same system messages only prefills its own part. The GUI can call this
        right after an adapter switch, while the user is still typing. Returns False if
        the prompt has no prefix worth keeping (or the prefix cache is disabled).
        """
        return self._adapters.warm(messages)

    def prompt_tokens(self, messages: Sequence[dict[str, str]]) -> tuple[int, int]:
        """(prompt length, length of the system prefix kept per adapter set) in tokens."""
        return self._adapters.prompt_tokens(messages)

    @property
    def adapter_stats(self) -> SwitchStats:
        """Switch and prefix-cache counters (for tests and benchmarks)."""
        return self._adapters.stats

    def close(self) -> None:
        self._llm.close()


def _content(event: llama_types.CreateChatCompletionStreamResponse) -> str:
    """The text a streamed chat event adds (empty for role-only and final events)."""
    choices = event.get("choices") or []
    delta = choices[0].get("delta") if choices else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""
