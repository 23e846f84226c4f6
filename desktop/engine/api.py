"""What the rest of Folio needs from a chat engine: the local llama.cpp `Engine`
(desktop/engine/llm.py), the HTTP engine on a server (desktop/engine/remote.py) and the
scripted fake of the tests all provide exactly this."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from desktop.cancel import CancelToken

if TYPE_CHECKING:  # importing lora loads llama.cpp, which the window must not wait for
    from desktop.engine.lora import AdapterSpec

Message = dict[str, str]

LOCAL = "This computer"


@dataclass(frozen=True)
class EngineInfo:
    """What an engine is, for `folio engines test`, the window's status and benchmarks.

    Args:
        model: the model's name (the GGUF file name, or the server's model id).
        context: its context window in tokens (None: the server does not say).
        where: where answers are computed: "This computer" or "server: HOST".
        adapters: the adapters it can apply (by name; for a server, the ones it offers).
        scalable: True if an adapter's strength can be set (False: on or off only).
    """

    model: str
    context: int | None
    where: str = LOCAL
    adapters: tuple[str, ...] = ()
    scalable: bool = True


class ChatEngine(Protocol):
    """One resident chat model, used from one thread."""

    model_path: Path

    @property
    def prefill_tokens_per_s(self) -> float | None:
        """Prompt-reading speed measured on this machine by the last answers (None: not
        measured yet). The answer path sizes its context budget by it."""
        ...

    @property
    def info(self) -> EngineInfo:
        """The model's name and context size, and where it runs."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` by the model's tokenizer (or an estimate where none is at hand)."""
        ...

    def stream_chat(
        self,
        messages: Sequence[Message],
        max_tokens: int = 384,
        cancel: CancelToken | None = None,
        temperature: float = 0.0,
    ) -> Iterator[str]:
        """Yield the reply piece by piece; stop soon after `cancel` is set."""
        ...

    def set_adapters(self, adapters: Sequence[AdapterSpec]) -> None:
        """Make these (adapter, scale) pairs the active style adapters; `[]`: none."""
        ...

    @property
    def active_adapters(self) -> tuple[tuple[str, float], ...]:
        """The applied adapters as (name, scale)."""
        ...

    def warm_prefix(self, messages: Sequence[Message]) -> bool:
        """Get the fixed system-prompt part of `messages` ready ahead of a question."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...
