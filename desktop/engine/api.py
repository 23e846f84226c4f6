"""What the rest of Folio needs from a chat engine: the llama.cpp `Engine` and the scripted
fake of the tests both provide exactly this."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from desktop.cancel import CancelToken

if TYPE_CHECKING:  # importing lora loads llama.cpp, which the window must not wait for
    from desktop.engine.lora import AdapterSpec

Message = dict[str, str]


class ChatEngine(Protocol):
    """One resident chat model, used from one thread."""

    model_path: Path

    @property
    def prefill_tokens_per_s(self) -> float | None:
        """Prompt-reading speed measured on this machine by the last answers (None: not
        measured yet). The answer path sizes its context budget by it."""
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
