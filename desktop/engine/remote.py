"""The HTTP chat engine: answers streamed from an OpenAI-compatible server (llama-server,
vLLM, Ollama) instead of the local llama.cpp model.

It keeps the local engine's contract (`desktop.engine.api.ChatEngine`): same messages, same
sampling (greedy, seed 0, repeat penalty 1.1), Stop within a token. Stop closes the HTTP
stream, which is how these servers learn to stop generating. Adapters are chosen per request:
llama-server's `lora` field (every adapter the server holds is sent, scale 0 for those off,
because llama-server applies a loaded adapter to requests that do not mention it), or the
adapter's own model name on vLLM and Ollama.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePath
from typing import Any

import httpx
from httpx_sse import EventSource, SSEError

from desktop.adapters import AdapterInfo, check_scale
from desktop.cancel import CancelToken
from desktop.closing import Closeable
from desktop.engine.api import EngineInfo, Message
from desktop.engine.endpoint import (
    Endpoint,
    post_json,
    status_error,
    transport_error,
    with_connect_retries,
)
from desktop.engine.server_info import ServerAdapter, ServerInfo, probe
from desktop.errors import AdapterError, ServerError

log = logging.getLogger(__name__)

SEED = 0
# The local engine's (desktop/engine/llm.py). llama-server applies it over the last 64 tokens
# of the prompt and the answer, llama-cpp-python over the answer's only, so greedy answers
# can part after a few tokens (docs/server.md: how often and how far).
REPEAT_PENALTY = 1.1
CHARS_PER_TOKEN = 4  # the estimate where the server cannot count tokens


def adapter_name(ref: object) -> str:
    """The name an adapter reference goes by on a server (file name without `.gguf`)."""
    if isinstance(ref, AdapterInfo):
        return ref.path.stem
    if isinstance(ref, Path) or str(ref).lower().endswith(".gguf"):
        return PurePath(str(ref)).stem
    return str(ref)


class RemoteEngine(Closeable):
    """A chat engine on a server; one per thread, like the local one.

    Args:
        endpoint: the server, model and key.
        info: what the server offers (None: asked now, which checks the connection).
        repeat_penalty: sent with every request (1.0: none).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        info: ServerInfo | None = None,
        repeat_penalty: float = REPEAT_PENALTY,
    ) -> None:
        self.endpoint = endpoint
        self.repeat_penalty = repeat_penalty
        self._client = endpoint.client()
        try:
            self.server = info or probe(endpoint, self._client)
        except BaseException:
            self._client.close()
            raise
        self.model_path = Path(self.server.model)
        self._active: tuple[tuple[ServerAdapter, float], ...] = ()
        self._prefill_rate: float | None = None
        self._can_tokenize = self.server.kind == "llama-server"
        self.last_timings: dict[str, Any] = {}
        for warning in endpoint.warnings():
            log.warning("engine %s: %s", endpoint.url, warning)

    # -- what it is ------------------------------------------------------------------------
    @property
    def info(self) -> EngineInfo:
        return EngineInfo(
            model=PurePath(self.server.model).name,  # llama-server's id is the file's path
            context=self.server.context,
            where=self.endpoint.where,
            adapters=tuple(a.name for a in self.server.adapters),
            scalable=any(a.scalable for a in self.server.adapters),
        )

    @property
    def prefill_tokens_per_s(self) -> float | None:
        """The server's prompt speed, from the timings llama-server reports per answer."""
        return self._prefill_rate

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` by the server's tokenizer (llama-server), else an estimate."""
        if self._can_tokenize:
            data = post_json(self._client, self.endpoint, "/tokenize", {"content": text})
            tokens = data.get("tokens") if isinstance(data, dict) else None
            if isinstance(tokens, list):
                return len(tokens)
        return max(1, len(text) // CHARS_PER_TOKEN)

    # -- answers ---------------------------------------------------------------------------
    def _body(self, messages: Sequence[Message], max_tokens: int, temperature: float) -> dict:
        body: dict[str, Any] = {
            "model": self.server.model,
            "messages": [dict(m) for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": SEED,
            "stream": True,
        }
        if self.server.kind == "llama-server":
            body["repeat_penalty"] = self.repeat_penalty
            body["cache_prompt"] = True
            scales = {a.id: s for a, s in self._active}
            body["lora"] = [
                {"id": a.id, "scale": float(scales.get(a.id, 0.0))}
                for a in self.server.adapters
                if a.id is not None
            ]
        else:
            body["repetition_penalty"] = self.repeat_penalty  # vLLM's name; others ignore it
            by_model = [a for a, _ in self._active if a.id is None]
            if by_model:
                body["model"] = by_model[0].name
        return body

    def stream_chat(
        self,
        messages: Sequence[Message],
        max_tokens: int = 384,
        cancel: CancelToken | None = None,
        temperature: float = 0.0,
    ) -> Iterator[str]:
        """Yield the reply piece by piece; Stop (`cancel`) closes the stream within a token,
        or at once while the server is still reading the prompt."""
        cancel = cancel or CancelToken()
        body = self._body(messages, max_tokens, temperature)
        request = self._client.build_request("POST", "/v1/chat/completions", json=body)
        try:
            response = with_connect_retries(lambda: self._client.send(request, stream=True))
        except httpx.HTTPError as exc:
            raise transport_error(self.endpoint, exc) from exc
        done = threading.Event()
        watcher = threading.Thread(
            target=_close_on_cancel, args=(cancel, done, response), daemon=True
        )
        watcher.start()
        try:
            if response.status_code >= 400:
                text = response.read().decode("utf-8", "replace")
                raise status_error(self.endpoint, response.status_code, text, body["model"])
            yield from self._pieces(EventSource(response), cancel)
        except (httpx.HTTPError, SSEError) as exc:
            if cancel.cancelled:
                return  # our own Stop closed the connection
            if isinstance(exc, SSEError):
                raise ServerError(
                    f"the server at {self.endpoint.host} did not stream the answer ({exc})"
                ) from exc
            raise transport_error(self.endpoint, exc, midway=True) from exc
        finally:
            done.set()
            response.close()

    def _pieces(self, events: EventSource, cancel: CancelToken) -> Iterator[str]:
        for sse in events.iter_sse():
            if cancel.cancelled:
                return
            if sse.data.strip() == "[DONE]":
                return
            try:
                event = json.loads(sse.data)
            except ValueError:
                continue
            if isinstance(event, dict) and "error" in event:
                raise status_error(self.endpoint, 500, sse.data)
            self._note_timings(event)
            piece = _content(event)
            if piece:
                yield piece
                if cancel.cancelled:
                    return

    def _note_timings(self, event: dict[str, Any]) -> None:
        timings = event.get("timings")
        if not isinstance(timings, dict):
            return
        self.last_timings = timings
        rate, n = timings.get("prompt_per_second"), timings.get("prompt_n", 0)
        if isinstance(rate, (int, float)) and rate > 0 and isinstance(n, int) and n >= 32:
            last = self._prefill_rate
            self._prefill_rate = rate if last is None else 0.7 * last + 0.3 * rate

    # -- adapters --------------------------------------------------------------------------
    def set_adapters(self, adapters: Sequence[tuple[object, float]]) -> None:
        """Use these (adapter, scale) pairs from the next request on; `[]`: none.

        Raises:
            AdapterError: the server does not hold the adapter, a bad scale, or two
                adapters on a server that applies one per request (vLLM, Ollama).
        """
        chosen: list[tuple[ServerAdapter, float]] = []
        for ref, given in adapters:
            name = adapter_name(ref)
            try:
                scale = check_scale(given, name)
            except ValueError as exc:
                raise AdapterError(str(exc)) from exc
            found = self.server.adapter(name)
            if found is None:
                offered = ", ".join(a.name for a in self.server.adapters) or "none"
                raise AdapterError(
                    f"the server at {self.endpoint.host} does not offer the adapter '{name}' "
                    f"(it offers: {offered}); load it there (llama-server: --lora {name}.gguf)"
                )
            if scale > 0:
                chosen.append((found, float(scale)))
        if sum(1 for a, _ in chosen if a.id is None) > 1 or (
            any(a.id is None for a, _ in chosen) and len(chosen) > 1
        ):
            raise AdapterError(
                f"the server at {self.endpoint.host} applies one adapter per request"
            )
        self._active = tuple(chosen)

    @property
    def active_adapters(self) -> tuple[tuple[str, float], ...]:
        return tuple((a.name, s) for a, s in self._active)

    def warm_prefix(self, messages: Sequence[Message]) -> bool:
        """Nothing to warm here: the server keeps its own prompt cache (`cache_prompt`)."""
        return False

    def close(self) -> None:
        self._client.close()


def _close_on_cancel(cancel: CancelToken, done: threading.Event, response: httpx.Response) -> None:
    """Shut the connection down as soon as `cancel` is set, unless the stream ended first: a
    server reading a long prompt sends nothing, and only a closed connection tells it to stop.

    A shutdown, not a close: closing a socket that another thread is waiting on neither
    wakes that thread nor tells the server (Linux keeps it open until the wait ends); a
    shutdown sends the server a FIN and ends the wait at once.
    """
    while not done.is_set():
        if cancel.wait(0.05):
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None and not done.is_set():
                with contextlib.suppress(OSError):  # already closed: nothing to stop
                    sock.shutdown(socket.SHUT_RDWR)
            return


def _content(event: Any) -> str:
    """The text a streamed chat event adds (empty for role-only and final events)."""
    choices = event.get("choices") if isinstance(event, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    delta = first.get("delta") if isinstance(first, dict) else None
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""
