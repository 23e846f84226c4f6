"""What a serving engine offers: its model, its context size and its LoRA adapters.

llama-server lists adapters at `/lora-adapters` (ids, paths, scales; a request picks them
with `"lora": [{"id", "scale"}]`). vLLM lists each LoRA module in `/v1/models` with a
`parent` (a request picks one by its `model` name, with no scale). Ollama has neither: an
adapter there is a model of its own (a Modelfile with `ADAPTER`), asked for by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import httpx

from desktop.engine.endpoint import Endpoint, get_json
from desktop.errors import ServerError


@dataclass(frozen=True)
class ServerAdapter:
    """An adapter the server holds.

    Args:
        name: its file name without `.gguf` (llama-server) or its module name (vLLM).
        id: llama-server's id for the `lora` field; None where adapters are picked by model.
        path: the file the server loaded ("" if the server does not say).
    """

    name: str
    id: int | None
    path: str = ""

    @property
    def scalable(self) -> bool:
        """True if a request can set this adapter's strength (llama-server)."""
        return self.id is not None


@dataclass(frozen=True)
class ServerInfo:
    """What `folio engines test` shows and the HTTP engine builds on."""

    url: str
    model: str
    models: tuple[str, ...]
    context: int | None
    adapters: tuple[ServerAdapter, ...]
    kind: str  # "llama-server" or "openai" (vLLM, Ollama and others)

    def adapter(self, name: str) -> ServerAdapter | None:
        """The adapter called `name` (or whose file is `name` / `name.gguf`)."""
        for a in self.adapters:
            if name in (a.name, PurePath(a.path).name):
                return a
        return None

    def lines(self) -> list[str]:
        adapters = ", ".join(
            f"{a.name} (id {a.id})" if a.id is not None else a.name for a in self.adapters
        )
        return [
            f"server:   {self.url} ({self.kind})",
            f"model:    {self.model}",
            f"context:  {self.context if self.context else 'not reported'} tokens",
            f"adapters: {adapters or 'none'}",
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kind": self.kind,
            "model": self.model,
            "models": list(self.models),
            "context": self.context,
            "adapters": [{"name": a.name, "id": a.id, "path": a.path} for a in self.adapters],
        }


def probe(endpoint: Endpoint, client: httpx.Client) -> ServerInfo:
    """Ask the server what it serves.

    Raises:
        ServerError: unreachable, wrong key, or the model asked for is not served.
    """
    listing = get_json(client, endpoint, "/v1/models")
    entries = listing.get("data", []) if isinstance(listing, dict) else []
    entries = [e for e in entries if isinstance(e, dict) and e.get("id")]
    loras = [e for e in entries if e.get("parent")]  # vLLM's LoRA modules
    bases = [e for e in entries if not e.get("parent")] or entries
    models = tuple(str(e["id"]) for e in bases)
    if not models:
        raise ServerError(f"the server at {endpoint.host} serves no model (GET /v1/models)")
    model = endpoint.model or models[0]
    every = {str(e["id"]) for e in entries}
    if endpoint.model and endpoint.model not in every:
        raise ServerError(
            f"the server at {endpoint.host} has no model '{endpoint.model}' "
            f"(it serves: {', '.join(sorted(every))})"
        )
    context = _vllm_context(bases, model)
    props = get_json(client, endpoint, "/props", optional=True)
    adapters: tuple[ServerAdapter, ...] = tuple(ServerAdapter(str(e["id"]), None) for e in loras)
    kind = "openai"
    if isinstance(props, dict) and "default_generation_settings" in props:
        kind = "llama-server"
        settings = props.get("default_generation_settings") or {}
        n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
        context = int(n_ctx) if isinstance(n_ctx, int) else context
        listed = get_json(client, endpoint, "/lora-adapters", optional=True) or []
        adapters = tuple(
            ServerAdapter(PurePath(str(a.get("path", ""))).stem, int(a["id"]), str(a["path"]))
            for a in listed
            if isinstance(a, dict) and isinstance(a.get("id"), int) and a.get("path")
        )
    return ServerInfo(endpoint.url, model, models, context, adapters, kind)


def _vllm_context(bases: list[dict[str, Any]], model: str) -> int | None:
    for e in bases:
        if e.get("id") == model and isinstance(e.get("max_model_len"), int):
            return int(e["max_model_len"])
    return None
